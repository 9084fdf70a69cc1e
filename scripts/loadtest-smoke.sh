#!/usr/bin/env bash
# Smoke test of the load tester against a real gateway, for CI (under a minute after building):
#   1. builds the gateway and sms-loadtest (debug);
#   2. starts the gateway on a free port with its own database (sms_gateway_smoke_<pid>), its
#      own exchange and queues, and OPERATORS pointing at the load tester's embedded operator;
#   3. seeds 5 customers through the admin API;
#   4. runs a 5 s closed loop with --e2e (the operator embedded in `run`) and
#      --callbacks-listen (every customer's webhook at the load tester's receiver);
#   5. checks the JSON report: accepted > 0, no 5xx, no transport errors, e2e samples > 0,
#      every callback event received and signed;
#   6. on exit, whatever happened: stops the gateway, drops the database, deletes the queues.
# Uses DATABASE_URL / AMQP_URL, or the services scripts/services.sh finds.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "loadtest-smoke: $*" >&2; }

eval "$(scripts/services.sh sms_gateway)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
say "building (debug)"
cargo build --quiet -p sms-gateway --bin sms-gateway -p sms-loadtest --bin sms-loadtest
GW_BIN="$CARGO_TARGET_DIR/debug/sms-gateway"
LT_BIN="$CARGO_TARGET_DIR/debug/sms-loadtest"
started=$(date +%s.%N)

DB="sms_gateway_smoke_$$"
read -r DB_URL MYSQL_HOST MYSQL_PORT MYSQL_USER MYSQL_PASS < <(python3 - "$DATABASE_URL" "$DB" <<'PYEOF'
import sys, urllib.parse as u
p = u.urlparse(sys.argv[1])
print(u.urlunparse(p._replace(path="/" + sys.argv[2])), p.hostname or "127.0.0.1", p.port or 3306,
      u.unquote(p.username or "root"), u.unquote(p.password or "") or "-")
PYEOF
)
mysql_cmd() {
  local pass=(); [[ "$MYSQL_PASS" != "-" ]] && pass=("-p$MYSQL_PASS")
  mysql --protocol=tcp -h"$MYSQL_HOST" -P"$MYSQL_PORT" -u"$MYSQL_USER" "${pass[@]}" "$@"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
GW_PORT=$(free_port)
OP_PORT=$(free_port)
CB_PORT=$(free_port)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/loadtest-smoke.XXXXXX")
export AMQP_EXCHANGE="sms.smoke.$$" AMQP_QUEUE_NORMAL="sms.smoke.$$.normal" AMQP_QUEUE_EXPRESS="sms.smoke.$$.express"
ADMIN_TOKEN="smoke-admin-token-$$-$RANDOM$RANDOM"
GW_PID=""

cleanup() {
  local rc=$?
  if [[ -n "$GW_PID" ]]; then
    kill -TERM "$GW_PID" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$GW_PID" 2>/dev/null || true
    wait "$GW_PID" 2>/dev/null || true
  fi
  if [[ $rc != 0 && -f "$WORK/gateway.log" ]]; then
    say "failed; the gateway's last log lines:"; tail -20 "$WORK/gateway.log" >&2
  fi
  "$LT_BIN" cleanup-amqp --amqp-url "$AMQP_URL" >/dev/null 2>&1 || say "could not delete the AMQP exchange/queues"
  mysql_cmd -e "drop database if exists \`$DB\`" || say "could not drop $DB"
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

(cd "$WORK" && exec env LISTEN_ADDR="127.0.0.1:$GW_PORT" ADMIN_TOKEN="$ADMIN_TOKEN" DATABASE_URL="$DB_URL" \
  AMQP_URL="$AMQP_URL" SHUTDOWN_TIMEOUT_SECS=5 LOG_FORMAT=json RUST_LOG=warn \
  CALLBACK_ALLOWED_HOSTS=127.0.0.1/32 \
  OPERATORS="[{\"name\":\"lt\",\"url\":\"http://127.0.0.1:$OP_PORT/send\",\"api_key\":\"smoke-op-key\"}]" \
  "$GW_BIN" serve --role all >"$WORK/gateway.log" 2>&1) &
GW_PID=$!
for i in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$GW_PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$GW_PID" 2>/dev/null || { say "the gateway exited"; exit 1; }
  sleep 0.25
  [[ $i == 120 ]] && { say "the gateway is not ready after 30 s"; exit 1; }
done
say "gateway up on port $GW_PORT (database $DB); seeding 5 customers through the admin API"

"$LT_BIN" seed --via api --url "http://127.0.0.1:$GW_PORT" --admin-token "$ADMIN_TOKEN" \
  -n 5 --balance 1000000 --out "$WORK/keys.txt"
"$LT_BIN" --threads 1 run --url "http://127.0.0.1:$GW_PORT" --keys "$WORK/keys.txt" \
  --concurrency 8 --duration 5 --recipients 2 --express-ratio 0.2 --text mix \
  --e2e --operator-listen "127.0.0.1:$OP_PORT" --operator-latency-ms 2 --drain-timeout 20 \
  --callbacks-listen "127.0.0.1:$CB_PORT" --progress lines --out "$WORK/report.json"

python3 - "$WORK/report.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
i, e = r["intake"], r["e2e"] or {}
problems = []
if i["accepted"] <= 0: problems.append("nothing was accepted")
if i["status_5xx"] != 0: problems.append(f"{i['status_5xx']} answers were 5xx")
if i["errors"]: problems.append(f"transport errors: {i['errors']}")
if (e.get("latency") or {}).get("count", 0) <= 0: problems.append("no end-to-end sample")
c = r.get("callbacks") or {}
if not c.get("complete"): problems.append(f"callbacks incomplete: {c.get('events')} of {c.get('expected')}")
if c.get("bad_signatures"): problems.append(f"{c['bad_signatures']} callback POSTs badly signed")
if problems:
    print("loadtest-smoke: FAILED: " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"loadtest-smoke: ok: {i['accepted']} accepted, {e['latency']['count']} end-to-end samples "
      f"(p99 {e['latency']['p99_ms']} ms), {e['missing']} missing after the drain; "
      f"{c['events']} callback events in {c['posts']} signed POSTs")
PYEOF
say "done in $(python3 -c "import sys,time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$started") s after the build"
