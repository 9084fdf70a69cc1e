#!/usr/bin/env bash
# `make postman`: runs the Postman collection (postman/sms-gateway.postman_collection.json)
# with newman against a gateway this script starts and stops itself.
#
#   0. fails if the collection is stale: it must be what `node postman/build.js` builds from
#      tests/snapshots/openapi.snap.json and postman/walkthrough.js (postman/README.md)
#   1. finds MySQL/MariaDB and RabbitMQ like `make test` (scripts/services.sh), but uses a
#      database (sms_gateway_postman_<pid>) and an exchange and queues (postman.<pid>.*) of
#      its own, so it can run next to the integration tests; both are removed at the end
#   2. builds the binary (cargo build --bin sms-gateway, honouring CARGO_TARGET_DIR) unless
#      SMS_GATEWAY_BIN names one
#   3. starts two mock operators with known keys (mock-a posts delivery reports, mock-b does
#      not, so the walkthrough posts one itself), runs `sms-gateway migrate`, then `serve` on
#      a free port with a random ADMIN_TOKEN, and waits for /readyz
#   4. runs the collection with newman (installed from postman/package-lock.json if needed)
#   5. stops everything (SIGTERM; also on failure or Ctrl-C) and exits with newman's status
#
# Environment:
#   POSTMAN_SKIP_FOLDERS  comma-separated top-level folders not to run, e.g. OpenAPI
#   NEWMAN_ARGS           extra arguments for `newman run` (word-split)
#   SMS_GATEWAY_BIN       a built sms-gateway binary to use instead of building one
#   POSTMAN_SKIP_METRICS  set to skip the scrape check (promtool, catalog families) after the run
#   POSTMAN_OUT           where the gateway's log and newman's JUnit report go (target/postman)
#   READY_TIMEOUT_SECS    how long to wait for /readyz (60)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

say() { echo "postman: $*"; }
die() { echo "postman: $*" >&2; exit 1; }

for tool in node npm curl cargo; do
  if [[ $tool == cargo && -n "${SMS_GATEWAY_BIN:-}" ]]; then continue; fi
  command -v "$tool" >/dev/null || die "$tool is required (newman runs on Node.js 18+)"
done

COLLECTION="$ROOT/postman/sms-gateway.postman_collection.json"
OUT="${POSTMAN_OUT:-$ROOT/target/postman}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/gateway.log"
JUNIT="$OUT/newman-junit.xml"
RUN_ID="postman_$$"

# --- newman --------------------------------------------------------------------------------
NEWMAN="$ROOT/postman/node_modules/.bin/newman"
if [[ ! -x "$NEWMAN" ]] || ! npm ls --prefix postman >/dev/null 2>&1; then
  say "installing newman and openapi-to-postmanv2 (npm ci --prefix postman)"
  npm ci --prefix postman --no-audit --no-fund --loglevel=error
fi
node postman/build.js --check || die "the collection is stale (see above)"

# --- services: the server of DATABASE_URL with a database of our own -----------------------
services="$(scripts/services.sh "sms_gateway_$RUN_ID")" || die "no MySQL/MariaDB or RabbitMQ (see above)"
eval "$services"
db_base="${DATABASE_URL%%\?*}"                       # mysql://user@host:port/db
db_query="${DATABASE_URL#"$db_base"}"                # ?options, or empty
db_server="${db_base#*://}"
db_server="${db_base%%://*}://${db_server%%/*}"      # mysql://user@host:port
DB_NAME="sms_gateway_$RUN_ID"
export DATABASE_URL="$db_server/$DB_NAME$db_query"
export AMQP_URL
EXCHANGE="postman.$$"
QUEUE_NORMAL="$EXCHANGE.normal"
QUEUE_EXPRESS="$EXCHANGE.express"

# --- binary --------------------------------------------------------------------------------
# shellcheck source=scripts/lib/gateway.sh
source "$ROOT/scripts/lib/gateway.sh"
gateway_bin

# --- processes, and their cleanup on every exit ---------------------------------------------

# Run from an empty directory, so that a developer's .env (read by the binary) cannot change
# the configuration under test.
WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/sms-gateway-postman.XXXXXX")"
PIDS=()
GW=""
# shellcheck disable=SC2317,SC2329 # run by the EXIT trap
stop() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  if [[ -n "$GW" ]] && kill -0 "$GW" 2>/dev/null; then
    say "stopping the gateway (SIGTERM)"
    kill -TERM "$GW"
    for _ in $(seq 1 150); do kill -0 "$GW" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$GW" 2>/dev/null; then say "the gateway did not stop within 15 s; SIGKILL"; kill -KILL "$GW"; fi
    wait "$GW" 2>/dev/null
  fi
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  node "$ROOT/postman/cleanup.js" --database-url "$db_server/$DB_NAME" --amqp-url "$AMQP_URL" \
    --exchange "$EXCHANGE" --queue "$QUEUE_NORMAL" --queue "$QUEUE_EXPRESS"
  rm -rf "$WORKDIR"
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r PORT PORT_A PORT_B < <(free_ports 3)
BASE="http://127.0.0.1:$PORT"
ADMIN_TOKEN="postman-$(random_token)"

# Mock operators with known keys: mock-a reports delivery by itself, mock-b does not (the
# walkthrough posts mock-b's report with its key).
KEY_A="$(random_token)"
KEY_B="$(random_token)"
(cd "$WORKDIR" && exec "$BIN" mock-operator --listen "127.0.0.1:$PORT_A" --name mock-a --api-key "$KEY_A" \
  --dlr-url "$BASE/dlr/mock-a" --dlr-key "$KEY_A" --dlr-delay-ms 300) >"$OUT/mock-a.log" 2>&1 &
PIDS+=($!)
(cd "$WORKDIR" && exec "$BIN" mock-operator --listen "127.0.0.1:$PORT_B" --name mock-b --api-key "$KEY_B") \
  >"$OUT/mock-b.log" 2>&1 &
PIDS+=($!)

# Everything the collection's assertions depend on is set here, whatever the caller exports.
export LISTEN_ADDR="127.0.0.1:$PORT" ADMIN_TOKEN
export AMQP_EXCHANGE="$EXCHANGE" AMQP_QUEUE_NORMAL="$QUEUE_NORMAL" AMQP_QUEUE_EXPRESS="$QUEUE_EXPRESS"
export OPERATORS="[{\"name\":\"mock-a\",\"url\":\"http://127.0.0.1:$PORT_A/send\",\"api_key\":\"$KEY_A\"},{\"name\":\"mock-b\",\"url\":\"http://127.0.0.1:$PORT_B/send\",\"api_key\":\"$KEY_B\"}]"
unset EXPRESS_OPERATORS
export PRICE_NORMAL=1 PRICE_EXPRESS=2 MAX_SEGMENTS=10 MAX_RECIPIENTS=1000 MAX_BODY_BYTES=262144
export DEFAULT_COUNTRY_CODE=98 RUN_MIGRATIONS=false SHUTDOWN_TIMEOUT_SECS=10 LOG_FORMAT=json
export RUST_LOG="${RUST_LOG:-info,sqlx=warn,lapin=warn}"

say "database $DB_NAME, exchange $EXCHANGE, gateway on $BASE (log $LOG)"
(cd "$WORKDIR" && "$BIN" migrate) >"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; die "sms-gateway migrate failed"; }
(cd "$WORKDIR" && exec "$BIN" serve) >>"$LOG" 2>&1 &
GW=$!

# The end of the gateway's log, without this script's own /readyz polls.
log_tail() { grep -v '"http.route":"/readyz"' "$LOG" | tail -n 30 >&2; }
timeout="${READY_TIMEOUT_SECS:-60}"
started=$SECONDS
until curl -fs -o /dev/null "$BASE/readyz"; do
  if ! kill -0 "$GW" 2>/dev/null; then
    echo "postman: the gateway exited during start-up; the end of its log:" >&2
    log_tail
    exit 1
  fi
  if (( SECONDS - started >= timeout )); then
    echo "postman: the gateway was not ready after ${timeout} s; /readyz says: $(curl -s "$BASE/readyz")" >&2
    echo "postman: the end of its log:" >&2
    log_tail
    exit 1
  fi
  sleep 0.2
done
for i in 0 1; do
  if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
    name=$([[ $i == 0 ]] && echo mock-a || echo mock-b)
    cat "$OUT/$name.log" >&2
    die "mock operator $name exited"
  fi
done
say "gateway ready after $((SECONDS - started)) s"

# --- the run -------------------------------------------------------------------------------
folders=()
if [[ -n "${POSTMAN_SKIP_FOLDERS:-}" ]]; then
  mapfile -t folders < <(node -e '
    const skip = new Set(process.argv[2].split(",").map((s) => s.trim()).filter(Boolean));
    const names = require(process.argv[1]).item.map((i) => i.name);
    for (const s of skip) if (!names.includes(s)) { console.error("postman: no folder named " + s); process.exit(2); }
    for (const n of names) if (!skip.has(n)) console.log(n);
  ' "$COLLECTION" "$POSTMAN_SKIP_FOLDERS")
  say "skipping folder(s): $POSTMAN_SKIP_FOLDERS"
fi
folder_args=()
for f in "${folders[@]}"; do folder_args+=(--folder "$f"); done
# shellcheck disable=SC2206 # NEWMAN_ARGS is meant to be word-split
extra=(${NEWMAN_ARGS:-})
color=()
nocolor=()
if [[ ! -t 1 ]]; then color=(--color off); nocolor=(FORCE_COLOR=0); fi

say "newman run $(basename "$COLLECTION")"
newman_started=$SECONDS
set +e
env "${nocolor[@]}" "$NEWMAN" run "$COLLECTION" \
  --env-var "baseUrl=$BASE" \
  --env-var "adminToken=$ADMIN_TOKEN" \
  --env-var "dlrOperator=mock-b" \
  --env-var "dlrOperatorKey=$KEY_B" \
  --env-var "priceNormal=$PRICE_NORMAL" \
  --env-var "priceExpress=$PRICE_EXPRESS" \
  "${folder_args[@]}" \
  --reporters cli,junit --reporter-junit-export "$JUNIT" \
  "${color[@]}" \
  "${extra[@]}"
status=$?
set -e
if (( status == 0 )); then
  say "newman passed in $((SECONDS - newman_started)) s (JUnit report $JUNIT)"
else
  say "newman failed (status $status) after $((SECONDS - newman_started)) s; the gateway's log is $LOG"
fi

# --- the scrape after the traffic: promtool, and every family of the catalog present -------
if [[ -z "${POSTMAN_SKIP_METRICS:-}" ]]; then
  SCRAPE="$OUT/metrics.txt"
  curl -fsS "$BASE/metrics" >"$SCRAPE" || die "cannot scrape $BASE/metrics"
  PROMTOOL="$(scripts/promtool.sh)" || die "promtool is needed to check the scrape (see scripts/promtool.sh)"
  if ! "$PROMTOOL" check metrics <"$SCRAPE"; then
    say "promtool check metrics failed on $SCRAPE"; status=1
  fi
  missing=()
  while read -r name _; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    grep -q "^# TYPE $name " "$SCRAPE" || missing+=("$name")
  done <deploy/metrics.txt
  if ((${#missing[@]})); then
    say "families of deploy/metrics.txt missing from the scrape: ${missing[*]}"; status=1
  else
    say "scrape: promtool clean, all $(grep -cv '^\(#\|$\)' deploy/metrics.txt) catalog families present, $(grep -c '^smsgw_' "$SCRAPE") samples ($SCRAPE)"
  fi
fi
exit "$status"
