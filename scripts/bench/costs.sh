#!/usr/bin/env bash
# `make bench-costs`: what one delivered SMS costs the database, statement by statement.
#
# It starts a MariaDB of its own (127.0.0.1, a free port, performance_schema on: the machine's
# shared server is never reconfigured) and a RabbitMQ vhost-free set of queues of its own on
# AMQP_URL, then for each shape (COSTS_SHAPES, default "1 10" recipients a request):
#   intake    a gateway of role api takes COSTS_REQUESTS (default 20,000) requests, 10 % express,
#             64 connections, from 1,000 customers; nothing is published or delivered;
#   delivery  that gateway stops and two start on the same database: role publisher and role
#             worker (operator: `sms-loadtest operator`, 2 ms), until every recipient is SENT.
# For each phase it reads performance_schema's statement digests and SHOW GLOBAL STATUS
# before and after, and prints per delivered SMS: every statement (count, rows examined and
# affected), commits, InnoDB rows written and read, redo log fsyncs, the AMQP messages
# published and consumed, the operator calls, and the CPU seconds of each process. Reports go
# to target/bench/costs-<UTC timestamp>/ (costs.md, the raw digests and logs).
#
# The CPU figures are of this setup (performance_schema costs the server a few per cent); the
# counts do not depend on the machine's speed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
read -ra SHAPES <<<"${COSTS_SHAPES:-1 10}"
REQUESTS="${COSTS_REQUESTS:-20000}"
say() { echo "costs: $*" >&2; }
PY=python3

eval "$(scripts/services.sh sms_costs)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
say "building release binaries (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --release --quiet -p sms-gateway --bin sms-gateway -p sms-loadtest --bin sms-loadtest
GW_BIN="$CARGO_TARGET_DIR/release/sms-gateway"
LT_BIN="$CARGO_TARGET_DIR/release/sms-loadtest"
RES="$ROOT/target/bench/costs-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RES"
say "results and logs in $RES"
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- a MariaDB of our own ----------------------------------------------------------------------
DB_DIR="$RES/mariadb"; DB_PORT=$(free_port); DB_PID=""
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n "$DB_PID" ]]; then kill -TERM "$DB_PID" 2>/dev/null || true; wait "$DB_PID" 2>/dev/null || true; fi
  [[ -n "${AMQP_NAMES:-}" ]] && env "${AMQP_NAMES[@]}" "$LT_BIN" cleanup-amqp --amqp-url "$AMQP_URL" 2>/dev/null || true
  say "results and logs are in $RES"
}
trap cleanup EXIT
mariadb-install-db --no-defaults --user=root --auth-root-authentication-method=normal --skip-test-db \
  --datadir="$DB_DIR/data" >"$RES/mariadb-install.log" 2>&1
mariadbd --no-defaults --user=root --bind-address=127.0.0.1 --port="$DB_PORT" --datadir="$DB_DIR/data" \
  --socket="$DB_DIR/mysqld.sock" --pid-file="$DB_DIR/mysqld.pid" --log-error="$DB_DIR/error.log" \
  --skip-name-resolve --max-connections=400 --innodb-buffer-pool-size=1G --innodb-log-file-size=512M \
  --performance-schema=ON --performance-schema-max-prepared-statements-instances=100000 --performance-schema-consumer-events-statements-current=ON >/dev/null 2>&1 &
DB_PID=$!
sql() { mysql --protocol=tcp -h127.0.0.1 -P"$DB_PORT" -uroot -N -B "$@"; }
for _ in $(seq 1 120); do sql -e "select 1" >/dev/null 2>&1 && break; sleep 0.25; done
sql -e "create database sms_costs"
DB_URL="mysql://root@127.0.0.1:$DB_PORT/sms_costs"
say "MariaDB of our own on 127.0.0.1:$DB_PORT (pid $DB_PID, performance_schema on)"

# --- the gateways -------------------------------------------------------------------------------
ADMIN_TOKEN="costs-admin-$$-$RANDOM"
OP_PORT=$(free_port)
AMQP_NAMES=("AMQP_EXCHANGE=sms.costs.$$" "AMQP_QUEUE_NORMAL=sms.costs.$$.normal" "AMQP_QUEUE_EXPRESS=sms.costs.$$.express")
gw_env() { # port -> GW_ENV, the environment of a gateway listening there
  GW_ENV=(LISTEN_ADDR="127.0.0.1:$1" ADMIN_TOKEN="$ADMIN_TOKEN" DATABASE_URL="$DB_URL" AMQP_URL="$AMQP_URL"
    "${AMQP_NAMES[@]}" DB_MAX_CONNECTIONS=100 SHUTDOWN_TIMEOUT_SECS=5 LOG_FORMAT=json
    "RUST_LOG=info,sqlx=warn,lapin=warn"
    OPERATORS="[{\"name\":\"lt\",\"url\":\"http://127.0.0.1:$OP_PORT/send\",\"api_key\":\"k\",\"timeout_ms\":2000}]")
}
start() { # role name -> sets STARTED_PID, STARTED_URL
  local port; port=$(free_port)
  gw_env "$port"
  (cd "$RES" && exec env "${GW_ENV[@]}" "$GW_BIN" serve --role "$1" >>"$RES/gateway-$2.log" 2>&1) &
  STARTED_PID=$!; STARTED_URL="http://127.0.0.1:$port"; PIDS+=("$STARTED_PID")
  for _ in $(seq 1 240); do
    curl -fs "$STARTED_URL/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$STARTED_PID" 2>/dev/null || { say "gateway $2 exited:"; tail -20 "$RES/gateway-$2.log" >&2; exit 1; }
    sleep 0.25
  done
  say "gateway $2 not ready"; exit 1
}
stop() { # pid
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true
}
ticks() { # pid -> utime+stime ticks
  awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[12] + f[13] }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# The machine's RabbitMQ node: the oldest beam.smp (tests may start and stop nodes of their own).
BEAM_PID=$(pgrep -o -x beam.smp || true)
beam_ticks() { if [[ -n "$BEAM_PID" ]]; then ticks "$BEAM_PID"; else echo 0; fi; }
snapshot() { # name: digests and global status
  sql -e "select digest, count_star, sum_rows_examined, sum_rows_affected, sum_rows_sent, round(sum_timer_wait / 1e9, 1), \
    replace(replace(digest_text, '\n', ' '), '\t', ' ') from performance_schema.events_statements_summary_by_digest" >"$RES/$1-digests.tsv"
  # Prepared statements (what sqlx runs) are not in the digests; their instances, per
  # connection, hold the counts until the connection closes.
  sql -e "select concat('p', md5(sql_text)), sum(count_execute), sum(sum_rows_examined), sum(sum_rows_affected), \
    sum(sum_rows_sent), round(sum(sum_timer_execute) / 1e9, 1), replace(replace(sql_text, '\n', ' '), '\t', ' ') \
    from performance_schema.prepared_statements_instances group by sql_text" >>"$RES/$1-digests.tsv"
  sql -e "show global status" >"$RES/$1-status.tsv"
}
amqp_counts() { # gateway url -> AMQP messages published, consumed (from its /metrics)
  curl -fsS "$1/metrics" | awk '
    /^smsgw_outbox_published_total/ { p += $NF }
    /^smsgw_queue_consumed_total/ { c += $NF }
    END { printf "%d %d\n", p, c }'
}

"$LT_BIN" operator --listen "127.0.0.1:$OP_PORT" --latency-ms 2 >"$RES/operator.log" 2>&1 &
OP_PID=$!; PIDS+=("$OP_PID")
for _ in $(seq 1 40); do curl -fs "http://127.0.0.1:$OP_PORT/stats" >/dev/null 2>&1 && break; sleep 0.25; done
op_calls() { curl -fsS "http://127.0.0.1:$OP_PORT/stats" | $PY -c "import json,sys; print(json.load(sys.stdin)['received'])"; }

gw_env 0
(cd "$RES" && env "${GW_ENV[@]}" "$GW_BIN" migrate >"$RES/migrate.log" 2>&1)
"$LT_BIN" seed --via db --database-url "$DB_URL" -n 1000 --prefix costs --balance 100000000 \
  --out "$RES/keys.txt" 2>>"$RES/seed.log"
HZ=$(getconf CLK_TCK)

for shape in "${SHAPES[@]}"; do
  say "shape $shape: intake of $REQUESTS requests x $shape recipient(s) (role api, 64 connections)"
  start api "api-$shape"; API_PID=$STARTED_PID; API_URL=$STARTED_URL
  sql -e "truncate table performance_schema.events_statements_summary_by_digest"
  snapshot "s$shape-intake-before"
  g0=$(ticks "$API_PID"); d0=$(ticks "$DB_PID"); b0=$(beam_ticks)
  "$LT_BIN" run --url "$API_URL" --keys "$RES/keys.txt" --concurrency 64 --requests "$REQUESTS" --duration 600 \
    --recipients "$shape" --express-ratio 0.1 --text gsm --progress lines --out "$RES/s$shape-intake.json" \
    | tee "$RES/s$shape-intake.txt" >&2
  g1=$(ticks "$API_PID"); d1=$(ticks "$DB_PID"); b1=$(beam_ticks)
  snapshot "s$shape-intake-after"
  stop "$API_PID"
  want=$(sql sms_costs -e "select count(*) from sms_status where status = 'PENDING'")
  requests=$(sql sms_costs -e "select count(*) from sms_requests r where exists (select 1 from sms_status s where s.request_id = r.id and s.status = 'PENDING')")
  echo "api $((g1 - g0)) mariadbd $((d1 - d0)) rabbitmq $((b1 - b0)) recipients $want requests $requests" >"$RES/s$shape-intake-ticks.txt"
  say "shape $shape: delivery of $want recipients (role publisher + role worker, operator 2 ms)"
  sql -e "truncate table performance_schema.events_statements_summary_by_digest"
  snapshot "s$shape-delivery-before"
  c0=$(op_calls); d0=$(ticks "$DB_PID"); b0=$(beam_ticks); t0=$(date +%s.%N)
  start publisher "publisher-$shape"; PUB_PID=$STARTED_PID; PUB_URL=$STARTED_URL
  start worker "worker-$shape"; WRK_PID=$STARTED_PID; WRK_URL=$STARTED_URL
  while :; do
    left=$(sql sms_costs -e "select count(*) from sms_status where status in ('PENDING','SENDING')")
    say "shape $shape: $left of $want recipients not yet sent"
    [[ "$left" == 0 ]] && break
    if ! kill -0 "$PUB_PID" || ! kill -0 "$WRK_PID"; then say "a gateway exited"; exit 1; fi
    sleep 2
  done
  t1=$(date +%s.%N)
  read -r published _ < <(amqp_counts "$PUB_URL")
  read -r _ consumed < <(amqp_counts "$WRK_URL")
  p1=$(ticks "$PUB_PID"); w1=$(ticks "$WRK_PID"); d1=$(ticks "$DB_PID"); b1=$(beam_ticks); c1=$(op_calls)
  snapshot "s$shape-delivery-after"
  echo "publisher $p1 worker $w1 mariadbd $((d1 - d0)) rabbitmq $((b1 - b0)) operator_calls $((c1 - c0)) published $published consumed $consumed seconds $($PY -c "print(round($t1 - $t0, 1))") recipients $want requests $requests" \
    >"$RES/s$shape-delivery-ticks.txt"
  stop "$PUB_PID"; stop "$WRK_PID"
done

$PY "$ROOT/scripts/bench/costs.py" "$RES" "$HZ" "${SHAPES[@]}" | tee "$RES/costs.md"
