#!/usr/bin/env bash
# `make browser`: the web console's tests in a real browser (browser/tests/), against a
# gateway this script starts and stops itself, like scripts/postman.sh:
#
#   1. finds chromium (`which chromium`; Debian's package, installed with apt-get when missing
#      and run as root) and installs playwright-core from browser/package-lock.json (npm ci);
#      no browser is downloaded
#   2. finds MySQL/MariaDB and RabbitMQ like `make test`, with a database
#      (sms_gateway_browser_<pid>) and exchange and queues (browser.<pid>.*) of its own,
#      removed at the end
#   3. uses SMS_GATEWAY_BIN or builds the debug binary; starts a mock operator that reports
#      delivery, runs `migrate`, then `serve` on a free port with a random ADMIN_TOKEN
#   4. runs the tests (node --test) with BASE_URL, ADMIN_TOKEN and CHROMIUM set
#   5. stops everything and exits with the tests' status
#
# Environment:
#   SMS_GATEWAY_BIN     a built sms-gateway binary to use instead of building one
#   SCREENSHOTS_DIR     also save screenshots of the main pages there (docs/console/ is what
#                       the README shows: `SCREENSHOTS_DIR=docs/console make browser`)
#   BROWSER_OUT         where the gateway's log goes (target/browser)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

say() { echo "browser: $*"; }
die() { echo "browser: $*" >&2; exit 1; }

for tool in node npm curl; do
  command -v "$tool" >/dev/null || die "$tool is required (the tests run on Node.js 18+)"
done

# --- chromium and playwright-core ----------------------------------------------------------
if ! command -v chromium >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing chromium (apt-get install chromium)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null
  else
    die "chromium is required: apt-get install chromium (Debian), or put a chromium on PATH"
  fi
fi
CHROMIUM="$(command -v chromium)"
if [[ ! -d browser/node_modules/playwright-core ]] || ! npm ls --prefix browser >/dev/null 2>&1; then
  say "installing playwright-core (npm ci --prefix browser)"
  npm ci --prefix browser --no-audit --no-fund --loglevel=error
fi
# The cleanup reuses postman/cleanup.js (mysql2, amqplib).
if [[ ! -d postman/node_modules/mysql2 ]]; then
  npm ci --prefix postman --no-audit --no-fund --loglevel=error
fi

OUT="${BROWSER_OUT:-$ROOT/target/browser}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/gateway.log"
RUN_ID="browser_$$"

# --- services ------------------------------------------------------------------------------
services="$(scripts/services.sh "sms_gateway_$RUN_ID")" || die "no MySQL/MariaDB or RabbitMQ (see above)"
eval "$services"
db_base="${DATABASE_URL%%\?*}"
db_query="${DATABASE_URL#"$db_base"}"
db_server="${db_base#*://}"
db_server="${db_base%%://*}://${db_server%%/*}"
DB_NAME="sms_gateway_$RUN_ID"
export DATABASE_URL="$db_server/$DB_NAME$db_query"
export AMQP_URL
EXCHANGE="browser.$$"
QUEUE_NORMAL="$EXCHANGE.normal"
QUEUE_EXPRESS="$EXCHANGE.express"

# --- binary --------------------------------------------------------------------------------
# shellcheck source=scripts/lib/gateway.sh
source "$ROOT/scripts/lib/gateway.sh"
gateway_bin

# --- processes, and their cleanup on every exit ---------------------------------------------

WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/sms-gateway-browser.XXXXXX")"
PIDS=()
GW=""
# shellcheck disable=SC2317,SC2329 # run by the EXIT trap
stop() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  if [[ -n "$GW" ]] && kill -0 "$GW" 2>/dev/null; then
    kill -TERM "$GW"
    for _ in $(seq 1 150); do kill -0 "$GW" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$GW" 2>/dev/null; then kill -KILL "$GW"; fi
    wait "$GW" 2>/dev/null
  fi
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  node "$ROOT/postman/cleanup.js" --database-url "$db_server/$DB_NAME" --amqp-url "$AMQP_URL" \
    --exchange "$EXCHANGE" --queue "$QUEUE_NORMAL" --queue "$QUEUE_EXPRESS" | sed 's/^postman:/browser:/'
  rm -rf "$WORKDIR"
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r PORT PORT_A < <(free_ports 2)
BASE="http://127.0.0.1:$PORT"
ADMIN_TOKEN="browser-$(random_token)"
KEY_A="$(random_token)"
(cd "$WORKDIR" && exec "$BIN" mock-operator --listen "127.0.0.1:$PORT_A" --name mock-a --api-key "$KEY_A" \
  --dlr-url "$BASE/dlr/mock-a" --dlr-key "$KEY_A" --dlr-delay-ms 300) >"$OUT/mock-a.log" 2>&1 &
PIDS+=($!)

export LISTEN_ADDR="127.0.0.1:$PORT" ADMIN_TOKEN
export AMQP_EXCHANGE="$EXCHANGE" AMQP_QUEUE_NORMAL="$QUEUE_NORMAL" AMQP_QUEUE_EXPRESS="$QUEUE_EXPRESS"
export OPERATORS="[{\"name\":\"mock-a\",\"url\":\"http://127.0.0.1:$PORT_A/send\",\"api_key\":\"$KEY_A\"}]"
unset EXPRESS_OPERATORS
export PRICE_NORMAL=1 PRICE_EXPRESS=2 MAX_SEGMENTS=10 DEFAULT_COUNTRY_CODE=98 RUN_MIGRATIONS=false
export SHUTDOWN_TIMEOUT_SECS=10 LOG_FORMAT=json SESSION_COOKIE_SECURE=auto
# Callbacks: the tests' receivers listen on 127.0.0.1, and an event to a closed port parks
# after 1 s of retries (browser/tests/callbacks.test.js).
export CALLBACK_ALLOWED_HOSTS=127.0.0.1/32 CALLBACK_RETRY_PERIOD_SECS=1 CALLBACK_RETRY_BASE_MS=200 CALLBACK_RETRY_MAX_SECS=1
export RUST_LOG="${RUST_LOG:-info,sqlx=warn,lapin=warn}"

say "database $DB_NAME, exchange $EXCHANGE, gateway on $BASE (log $LOG)"
(cd "$WORKDIR" && "$BIN" migrate) >"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; die "sms-gateway migrate failed"; }
(cd "$WORKDIR" && exec "$BIN" serve) >>"$LOG" 2>&1 &
GW=$!
started=$SECONDS
until curl -fs -o /dev/null "$BASE/readyz"; do
  kill -0 "$GW" 2>/dev/null || { tail -n 30 "$LOG" >&2; die "the gateway exited during start-up"; }
  (( SECONDS - started < 60 )) || { tail -n 30 "$LOG" >&2; die "the gateway was not ready after 60 s"; }
  sleep 0.2
done
say "gateway ready after $((SECONDS - started)) s; chromium $CHROMIUM"

if [[ -n "${SCREENSHOTS_DIR:-}" ]]; then
  mkdir -p "$SCREENSHOTS_DIR"
  SCREENSHOTS_DIR="$(cd "$SCREENSHOTS_DIR" && pwd)"
  export SCREENSHOTS_DIR
fi
set +e
BASE_URL="$BASE" ADMIN_TOKEN="$ADMIN_TOKEN" CHROMIUM="$CHROMIUM" GATEWAY_LOG="$LOG" \
  npm test --prefix browser --silent
status=$?
set -e
if [[ $status != 0 ]]; then
  say "the end of the gateway's log:"
  tail -n 30 "$LOG" >&2
fi
# The admin token must never be in the gateway's log, nor any customer key the tests used.
if grep -qF "$ADMIN_TOKEN" "$LOG"; then say "the admin token appears in the gateway's log"; status=1; fi
exit $status
