#!/usr/bin/env bash
# Prints the path of a working promtool. When none is on PATH, it is taken from Debian's
# `prometheus` package: the .deb is downloaded with apt-get and only promtool is extracted into
# ~/.cache/sms-gateway-tools, so no Prometheus server is installed or started; as root,
# `apt-get install prometheus` is the fallback. Exits 1 when promtool cannot be had.
set -uo pipefail

find_promtool() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/sms-gateway-tools"
  if command -v promtool >/dev/null; then command -v promtool; return 0; fi
  if [[ -x "$cache/prometheus/usr/bin/promtool" ]]; then echo "$cache/prometheus/usr/bin/promtool"; return 0; fi
  echo "promtool: promtool is missing; extracting it from Debian's prometheus package into $cache" >&2
  if command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
    mkdir -p "$cache/deb" && rm -f "$cache"/deb/prometheus_*.deb
    if ! (cd "$cache/deb" && apt-get download prometheus >&2) && [[ $(id -u) == 0 ]]; then
      apt-get update -qq >&2 && (cd "$cache/deb" && apt-get download prometheus >&2)
    fi
    local debs=("$cache"/deb/prometheus_*.deb)
    if [[ -f "${debs[0]}" ]] && dpkg-deb -x "${debs[0]}" "$cache/prometheus" \
        && "$cache/prometheus/usr/bin/promtool" --version >/dev/null 2>&1; then
      echo "$cache/prometheus/usr/bin/promtool"; return 0
    fi
    if [[ $(id -u) == 0 ]]; then
      say "extraction failed; apt-get install -y --no-install-recommends prometheus" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >&2 \
        && command -v promtool && return 0
    fi
  fi
  return 1
}
find_promtool
