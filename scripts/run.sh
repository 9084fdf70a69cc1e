#!/usr/bin/env bash
# `make run`: start the gateway on this machine and send a first SMS end to end.
#   1. find MySQL/MariaDB and RabbitMQ (scripts/services.sh), create .env from .env.example
#   2. build (cargo's progress is shown) and start `sms-gateway serve` (migrations run at start)
#   3. as the admin: create a customer, top it up; as the customer: send an SMS to two
#      recipients, wait until the operators delivered it (SENT, then DELIVERED), then show
#      the balance, the history and the message's timeline
#   4. keep the gateway in the foreground until Ctrl-C, which stops it gracefully: exit 0
#
# Ctrl-C and make: the terminal sends SIGINT to its whole foreground process group, and GNU
# make, when it gets SIGINT itself, fails (`Interrupt` / `Error`) whatever its recipe does.
# So when started from a terminal this script runs itself again as a job of its own (bash job
# control, `set -m`), which the terminal then signals instead of make: the gateway stops,
# this script exits 0 and so does make. Bash hands the terminal to a job only when its
# standard error is that terminal; otherwise (`make run 2>&1 | tee log`) Ctrl-C still stops
# the gateway gracefully, and make reports the interrupt.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${SMS_GATEWAY_RUN_JOB:-}" && -t 0 && -t 2 ]]; then
  set -m
  set +e
  SMS_GATEWAY_RUN_JOB=1 "$0" "$@"
  exit $?
fi

eval "$(scripts/services.sh sms_gateway)"
if [[ ! -f .env ]]; then
  cp .env.example .env
  echo "run: created .env from .env.example (edit it to change settings)"
fi
env_value() { sed -n "s/^$1=//p" .env | tail -n 1; }
ADMIN_TOKEN="${ADMIN_TOKEN:-$(env_value ADMIN_TOKEN)}"
LISTEN_ADDR="${LISTEN_ADDR:-$(env_value LISTEN_ADDR)}"
PORT="${LISTEN_ADDR##*:}"; PORT="${PORT:-8080}"
BASE="http://127.0.0.1:${PORT}"
export ADMIN_TOKEN

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "run: port $PORT is already in use; stop what runs there or set LISTEN_ADDR" >&2
  exit 1
fi

GW=""
# Ctrl-C (SIGINT) or SIGTERM: stop the gateway gracefully and report how it ended.
# shellcheck disable=SC2329 # run by the INT/TERM trap
stop() {
  trap - INT TERM
  if [[ -z "$GW" ]] || ! kill -0 "$GW" 2>/dev/null; then
    echo; echo "run: stopped"
    exit 0
  fi
  echo; echo "run: stopping the gateway (pid $GW; it finishes in-flight work first)"
  kill -TERM "$GW" 2>/dev/null || true
  local rc=0
  wait "$GW" || rc=$?
  GW=""
  if [[ $rc == 0 ]]; then echo "run: the gateway stopped cleanly"; else echo "run: the gateway exited with status $rc; see $LOG" >&2; fi
  exit "$rc"
}
trap stop INT TERM
trap '[[ -n "$GW" ]] && kill -TERM "$GW" 2>/dev/null && wait "$GW" 2>/dev/null; true' EXIT

echo "run: building sms-gateway (the first build takes a few minutes; cargo's progress follows)"
cargo build --bin sms-gateway
BIN="${CARGO_TARGET_DIR:-target}/debug/sms-gateway"

LOG="${TMPDIR:-/tmp}/sms-gateway-run.log"
"$BIN" serve >"$LOG" 2>&1 &
GW=$!
echo "run: gateway started (pid $GW, log $LOG); waiting for $BASE/readyz"
for i in $(seq 1 120); do
  if curl -fs "$BASE/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$GW" 2>/dev/null; then echo "run: the gateway exited; its log:" >&2; cat "$LOG" >&2; GW=""; exit 1; fi
  sleep 0.5
  [[ $i == 120 ]] && { echo "run: not ready after 60 s:" >&2; curl -s "$BASE/readyz" >&2; tail -20 "$LOG" >&2; exit 1; }
done

pretty() { python3 -m json.tool; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
step() { echo; echo "==> $*"; }

NAME="demo-$(date +%s)"
step "POST /admin/customers (admin)"
CUSTOMER=$(curl -fsS -X POST "$BASE/admin/customers" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d "{\"name\": \"$NAME\", \"balance\": 0}")
echo "$CUSTOMER" | pretty
CID=$(echo "$CUSTOMER" | field customer_id)
KEY=$(echo "$CUSTOMER" | field api_key)

step "POST /balance/add (admin)"
curl -fsS -X POST "$BASE/balance/add" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d "{\"user_id\": $CID, \"balance\": 100, \"description\": \"top-up\"}" | pretty

step "POST /sms/send (customer key) to two recipients"
SENT=$(curl -fsS -X POST "$BASE/sms/send" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -H "Idempotency-Key: first-sms-$NAME" \
  -d '{"text": "Hello from sms-gateway", "recipients": ["+989121234567", "09127654321"], "type": "normal"}')
echo "$SENT" | pretty
SMS_ID=$(echo "$SENT" | field sms_identifier)

step "waiting for delivery (built-in mock operators report DELIVRD after 0.5 s)"
for i in $(seq 1 40); do
  STATES=$(curl -fsS "$BASE/sms/$SMS_ID" -H "Authorization: Bearer $KEY" | python3 -c 'import json,sys; print(",".join(sorted(json.load(sys.stdin)["counts"])))')
  echo "    states: $STATES"
  [[ "$STATES" == "DELIVERED" || "$STATES" == *FAILED* || "$STATES" == *UNDELIVERED* ]] && break
  sleep 0.25
done

step "GET /balance"
curl -fsS "$BASE/balance" -H "Authorization: Bearer $KEY" | pretty
step "GET /sms/history"
curl -fsS "$BASE/sms/history" -H "Authorization: Bearer $KEY" | pretty
step "GET /sms/$SMS_ID"
curl -fsS "$BASE/sms/$SMS_ID" -H "Authorization: Bearer $KEY" | pretty

cat <<MSG

run: the gateway is up at $BASE
     console:     $BASE/console/  (sign in with your key below, or the admin token)
     Swagger UI:  $BASE/swagger-ui/
     OpenAPI:     $BASE/api-docs/openapi.json
     metrics:     $BASE/metrics
     admin token: $ADMIN_TOKEN
     your key:    export KEY=$KEY
     try:         curl -s $BASE/sms/$SMS_ID -H "Authorization: Bearer \$KEY"
     log:         $LOG
run: press Ctrl-C to stop it.
MSG
rc=0
wait "$GW" || rc=$?
GW=""
echo "run: the gateway exited by itself with status $rc; see $LOG" >&2
exit "$rc"
