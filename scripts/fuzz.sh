#!/usr/bin/env bash
# `make fuzz`: checks the served OpenAPI document against the gateway's real answers with
# schemathesis (`st run --checks all`), once as a customer and once as the admin, and fails on
# any finding (an answer the document does not describe, a 5xx, an accepted invalid input...).
#
#   1. installs schemathesis (pinned below) into a virtualenv of its own if needed
#      (FUZZ_VENV, default ~/.cache/sms-gateway-tools/venv-fuzz; needs python3 with venv/pip)
#   2. finds MySQL/MariaDB and RabbitMQ like `make test` (scripts/services.sh), but uses a
#      database (sms_gateway_fuzz_<pid>) and an exchange and queues (fuzz.<pid>.*) of its own;
#      both are removed at the end. No OPERATORS: the built-in mock operators stand in
#   3. builds the binary unless SMS_GATEWAY_BIN names one, migrates, starts `serve` on a free
#      port with a random ADMIN_TOKEN and waits for /readyz
#   4. creates a customer and tops it up through the admin API
#   5. runs schemathesis as that customer, then as the admin (whatever the fuzzer does, e.g.
#      pausing dispatch or rotating keys, happens to this gateway only)
#   6. stops everything (SIGTERM; also on failure or Ctrl-C) and exits non-zero on any finding
#
# Environment:
#   FUZZ_MAX_EXAMPLES  test cases per operation and phase (default 100; bounds the run time)
#   FUZZ_SEED          seed of the generator (default: random; printed, so a finding can be re-run)
#   FUZZ_ARGS          extra arguments for `st run` (word-split)
#   FUZZ_OUT           where the gateway's log and the JUnit reports go (target/fuzz)
#   SMS_GATEWAY_BIN    a built sms-gateway binary to use instead of building one
#   READY_TIMEOUT_SECS how long to wait for /readyz (60)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

say() { echo "fuzz: $*"; }
die() { echo "fuzz: $*" >&2; exit 1; }

SCHEMATHESIS_VERSION="4.32.5"
VENV="${FUZZ_VENV:-$HOME/.cache/sms-gateway-tools/venv-fuzz}"
OUT="${FUZZ_OUT:-$ROOT/target/fuzz}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/gateway.log"
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-100}"
SEED="${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}"

for tool in python3 curl; do command -v "$tool" >/dev/null || die "$tool is required"; done

# --- schemathesis (and the AMQP / MySQL clients of the cleanup) ----------------------------
PY="$VENV/bin/python"
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION" ||
  ! "$PY" -c 'import pika, pymysql' 2>/dev/null; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" "pika>=1.3,<2" "pymysql>=1.1,<2"
fi
ST="$VENV/bin/st"

# --- services: the server of DATABASE_URL with a database of our own -----------------------
services="$(scripts/services.sh "sms_gateway_fuzz_$$")" || die "no MySQL/MariaDB or RabbitMQ (see above)"
eval "$services"
DB_NAME="sms_gateway_fuzz_$$"
DATABASE_URL="$("$PY" - "$DATABASE_URL" "$DB_NAME" <<'PYEOF'
import sys, urllib.parse as u
p = u.urlparse(sys.argv[1])
print(u.urlunparse(p._replace(path="/" + sys.argv[2])))
PYEOF
)"
export DATABASE_URL AMQP_URL
EXCHANGE="fuzz.$$"
export AMQP_EXCHANGE="$EXCHANGE" AMQP_QUEUE_NORMAL="$EXCHANGE.normal" AMQP_QUEUE_EXPRESS="$EXCHANGE.express"

# --- binary --------------------------------------------------------------------------------
# shellcheck source=scripts/lib/gateway.sh
source "$ROOT/scripts/lib/gateway.sh"
gateway_bin

# --- the gateway, and its cleanup on every exit --------------------------------------------
# Run from an empty directory, so that a developer's .env cannot change the configuration.
WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/sms-gateway-fuzz.XXXXXX")"
GW=""
# shellcheck disable=SC2317 # run by the EXIT trap
stop() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  if [[ -n "$GW" ]] && kill -0 "$GW" 2>/dev/null; then
    kill -TERM "$GW"
    for _ in $(seq 1 150); do kill -0 "$GW" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$GW" 2>/dev/null; then say "the gateway did not stop within 15 s; SIGKILL"; kill -KILL "$GW"; fi
    wait "$GW" 2>/dev/null
  fi
  "$PY" - "$DATABASE_URL" "$AMQP_URL" "$EXCHANGE" <<'PYEOF'
import sys, urllib.parse as u
db_url, amqp_url, exchange = sys.argv[1:4]
try:
    import pymysql
    p = u.urlparse(db_url)
    name = p.path.lstrip("/")
    assert name.replace("_", "").isalnum(), name
    conn = pymysql.connect(host=p.hostname or "127.0.0.1", port=p.port or 3306,
                           user=u.unquote(p.username or "root"),
                           password=u.unquote(p.password or ""), connect_timeout=5)
    with conn.cursor() as c:
        c.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()
except Exception as e:  # best effort: say what is left behind
    print(f"fuzz: could not drop the database: {e}")
try:
    import pika
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    ch = conn.channel()
    for q in (f"{exchange}.normal", f"{exchange}.express", f"{exchange}.dead"):
        ch.queue_delete(q)
    for e in (exchange, f"{exchange}.dlx"):
        ch.exchange_delete(e)
    conn.close()
except Exception as e:
    print(f"fuzz: could not delete the RabbitMQ exchange and queues: {e}")
PYEOF
  rm -rf "$WORKDIR"
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
ADMIN_TOKEN="fuzz-$("$PY" -c 'import secrets; print(secrets.token_hex(24))')"
export LISTEN_ADDR="127.0.0.1:$PORT" ADMIN_TOKEN
unset OPERATORS EXPRESS_OPERATORS
export PRICE_NORMAL=1 PRICE_EXPRESS=2 MAX_SEGMENTS=10 MAX_RECIPIENTS=1000 MAX_BODY_BYTES=262144
export DEFAULT_COUNTRY_CODE=98 RUN_MIGRATIONS=false SHUTDOWN_TIMEOUT_SECS=10 LOG_FORMAT=json
export RUST_LOG="${RUST_LOG:-warn}"

say "database $DB_NAME, exchange $EXCHANGE, gateway on $BASE (log $LOG)"
(cd "$WORKDIR" && "$BIN" migrate) >"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; die "sms-gateway migrate failed"; }
(cd "$WORKDIR" && exec "$BIN" serve) >>"$LOG" 2>&1 &
GW=$!
started=$SECONDS
until curl -fs -o /dev/null "$BASE/readyz"; do
  kill -0 "$GW" 2>/dev/null || { tail -n 30 "$LOG" >&2; die "the gateway exited during start-up"; }
  (( SECONDS - started < ${READY_TIMEOUT_SECS:-60} )) || { tail -n 30 "$LOG" >&2; die "the gateway was not ready in time"; }
  sleep 0.2
done

# --- a customer with credits ----------------------------------------------------------------
admin_post() {
  curl -fsS -X POST "$BASE$1" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -d "$2"
}
created="$(admin_post /admin/customers '{"name": "fuzz", "balance": 0}')" || die "cannot create the customer"
read -r CUSTOMER_ID API_KEY < <("$PY" -c 'import json, sys; c = json.load(sys.stdin); print(c["customer_id"], c["api_key"])' <<<"$created")
admin_post /balance/add "{\"user_id\": $CUSTOMER_ID, \"balance\": 1000000}" >/dev/null || die "cannot top up the customer"
say "customer $CUSTOMER_ID created and topped up"

# --- the runs -----------------------------------------------------------------------------
# Two things no JSON Schema can say, and how the runs handle them:
# - whether a phone number is assigned in its country (libphonenumber's metadata), whether two
#   recipients are the same number after normalization, how many segments a text takes
#   (GSM 03.38), which operator names are configured, whether a balance covers a send, and
#   which names are free, which cursors this API issued (they are opaque), that a detail's
#   `recipient` filter is a phone number, that a daily report's `to` is not before its `from`
#   and at most 366 days after it, which strings are sender ids (and which sender ids a
#   customer has: a send's `from` may get a 403), and that JSON
#   integers come without a fraction (`100.0` is refused), which strings are API keys
#   (POST /session), which strings are event ids this API issued (POST /callbacks/replay), and
#   whether a callback URL is absolute http(s) with a public host (PUT /callbacks/settings): so schema-valid data may get a 400 (or 401, 402) on the operations below;
#   every other check, and schema-invalid data getting a 4xx, stays in force for them;
# - that the admin must name the customer (`user_id`, `customer_id`) a customer key implies:
#   the admin run names the fuzz customer (the customer run fuzzes those fields freely).
write_config() {
  local file="$1" admin="$2"
  {
    for path in /sms/send /sms/history /sms/history.csv /reports/daily /balance /balance/add /admin/customers \
      "/sms/{sms_identifier}" "/sms/{sms_identifier}/recipients/{recipient}/events" \
      "/admin/customers/{customer_id}" "/admin/customers/{customer_id}/limits" /senders \
      "/admin/customers/{customer_id}/senders" \
      "/admin/customers/{customer_id}/senders/{sender}" \
      "/admin/customers/{customer_id}/senders/{sender}/default" /sms/quote /session \
      "/admin/customers/{customer_id}/sessions" /callbacks/replay /callbacks/settings \
      /callbacks/deliveries /callbacks/parked; do
      cat <<TOML
[[operations]]
include-path = "$path"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "402", "403", "404", "409", "429"]

TOML
    done
    # A customer rotating its own key (POST /api-key) would end the run's key: every later
    # request would be a 401. tests/api/console/sessions.rs covers it; the admin run still
    # calls it (a 403).
    if [[ $admin == 0 ]]; then
      cat <<TOML
[[operations]]
include-path = "/api-key"
enabled = false

TOML
    fi
    if [[ $admin == 1 ]]; then
      cat <<TOML
[parameters]
"query.user_id" = $CUSTOMER_ID
"body.customer_id" = $CUSTOMER_ID
"body.user_id" = $CUSTOMER_ID
TOML
    fi
  } >"$file"
}
write_config "$OUT/schemathesis-customer.toml" 0
write_config "$OUT/schemathesis-admin.toml" 1

# shellcheck disable=SC2206 # FUZZ_ARGS is meant to be word-split
extra=(${FUZZ_ARGS:-})
failed=()
run() {
  local who="$1" token="$2"
  say "st run as the $who (--max-examples $MAX_EXAMPLES --seed $SEED)"
  local t0=$SECONDS
  # From $OUT, where schemathesis keeps its cache (.schemathesis/).
  if (cd "$OUT" && NO_COLOR=1 "$ST" --config-file "$OUT/schemathesis-$who.toml" run "$BASE/api-docs/openapi.json" \
    -H "Authorization: Bearer $token" \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers 2 \
    --request-timeout 10 \
    --report junit --report-junit-path "$OUT/schemathesis-$who.xml" \
    "${extra[@]}"); then
    say "as the $who: no finding ($((SECONDS - t0)) s)"
  else
    say "as the $who: findings above ($((SECONDS - t0)) s); re-run with FUZZ_SEED=$SEED"
    failed+=("$who")
  fi
}
run customer "$API_KEY"
run admin "$ADMIN_TOKEN"

kill -0 "$GW" 2>/dev/null || { tail -n 30 "$LOG" >&2; die "the gateway died during the run"; }
if ((${#failed[@]})); then
  die "schemathesis found answers that contradict the OpenAPI document (as: ${failed[*]}); the gateway's log is $LOG"
fi
say "schemathesis: no finding as the customer or the admin"
