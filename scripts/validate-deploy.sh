#!/usr/bin/env bash
# `make validate-deploy`: static checks of the Dockerfile, docker-compose.yml and deploy/ with
# kept tools, then the few checks only this project knows. Starts no container and needs no
# cluster; once the tools are installed it needs no network either.
#
#   hadolint                Dockerfile
#   yamllint                every YAML file of the repository (rules and why: .yamllint)
#   kubernetes-validate     deploy/k8s (as `kubectl kustomize` renders it, when kubectl is
#                           there) against the Kubernetes schemas the package ships, --strict
#   docker-compose config   docker-compose.yml against the compose schema, variables resolved
#   promtool                prometheus.yml, alerts.yml, alerts_test.yml, the dashboards' PromQL
#   json.tool               the Grafana dashboards
#   ShellCheck              the shell scripts
#   validate_deploy.py      metric catalog, runbook anchors, k8s grace periods, compose's
#                           operators and variables (see its docstring)
#
# The Python tools (pinned in scripts/requirements-deploy.txt) are installed with pip into a
# virtualenv, $DEPLOY_TOOLS_VENV (~/.cache/sms-gateway-tools/venv), when missing or when the
# pins change; promtool comes from scripts/promtool.sh. `docker compose` (v2) is used when
# present, else Debian's docker-compose 1.29; without either, that one check is skipped (and
# said so). Exits non-zero when any check failed or a tool could not be installed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

say() { echo "validate-deploy: $*"; }
VENV="${DEPLOY_TOOLS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/sms-gateway-tools/venv}"
REQS=scripts/requirements-deploy.txt
if ! cmp -s "$REQS" "$VENV/requirements-deploy.txt"; then
  say "installing $(grep -v '^#' "$REQS" | xargs) into $VENV"
  { python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS" \
      && cp "$REQS" "$VENV/requirements-deploy.txt"; } \
    || { say "could not install the tools (python3-venv and PyPI needed)"; exit 1; }
fi
export PATH="$VENV/bin:$PATH"
PROMTOOL=$(scripts/promtool.sh) || { say "promtool is required and could not be installed"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ran=() failed=() skipped=()
run() { # name, command...
  local name=$1; shift
  echo; say "[$name] $*"
  if "$@"; then ran+=("$name"); else failed+=("$name"); say "[$name] FAILED"; fi
}

run hadolint hadolint Dockerfile
run yamllint yamllint --strict .
for f in deploy/grafana/dashboards/*.json; do run "json $f" python3 -m json.tool "$f" /dev/null; done
run shellcheck shellcheck scripts/*.sh scripts/bench/*.sh scripts/lib/*.sh deploy/docker/http-probe .ci/run

if command -v kubectl >/dev/null && kubectl kustomize deploy/k8s >"$tmp/k8s.yaml"; then
  k8s=("$tmp/k8s.yaml")
else
  say "kubectl kustomize not available: validating the manifests one by one"; k8s=(deploy/k8s/[!k]*.yaml)
fi
run kubernetes-validate kubernetes-validate --strict --quiet "${k8s[@]}"

if docker compose version >/dev/null 2>&1; then
  run docker-compose-config docker compose config -q
elif command -v docker-compose >/dev/null; then
  # Compose v1 does not know the compose spec's top-level `name:`; it reads a copy without it.
  sed '/^name:/d' docker-compose.yml >"$tmp/docker-compose.yml"
  run docker-compose-config docker-compose -f "$tmp/docker-compose.yml" --project-directory . config -q
else
  skipped+=("docker-compose-config: neither docker compose nor docker-compose is installed")
fi

run promtool-config "$PROMTOOL" check config deploy/prometheus/prometheus.yml
run promtool-rules "$PROMTOOL" check rules deploy/prometheus/alerts.yml
run promtool-tests "$PROMTOOL" test rules deploy/prometheus/alerts_test.yml
run project-checks python3 scripts/validate_deploy.py "$tmp/dashboard-rules.yml"
run dashboard-promql "$PROMTOOL" check rules "$tmp/dashboard-rules.yml"

echo
for s in "${skipped[@]}"; do say "skipped $s"; done
if ((${#failed[@]})); then
  say "${#ran[@]} passed, ${#failed[@]} FAILED: ${failed[*]}"
  exit 1
fi
say "${#ran[@]} passed, 0 failed, ${#skipped[@]} skipped"
