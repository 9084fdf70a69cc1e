# shellcheck shell=bash
# What the benchmark scripts share (sourced by scripts/bench.sh and scripts/bench/peers.sh,
# after `set -euo pipefail`, from the repository's root, with ROOT set and BENCH_RES the
# results directory's name under target/bench/): the services, the release binaries, the
# results directory, MySQL helpers, starting and stopping a gateway, CPU snapshots, one
# load-tester run, and the small arithmetic of the verdicts.

dur() { echo "${BENCH_DURATION:-$1}"; }
say() { echo "bench: $*" >&2; }

eval "$(scripts/services.sh sms_bench)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
say "building release binaries (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --release --quiet -p sms-gateway --bin sms-gateway -p sms-loadtest --bin sms-loadtest
GW_BIN="$CARGO_TARGET_DIR/release/sms-gateway"
LT_BIN="$CARGO_TARGET_DIR/release/sms-loadtest"

RES="$ROOT/target/bench/$BENCH_RES"
mkdir -p "$RES"
say "results and logs in $RES"
PY="python3"
PROCSTAT="$ROOT/scripts/bench/procstat.py"

# --- MySQL client arguments and database URLs from DATABASE_URL -------------------------------
mapfile -t MYSQL_ARGS < <($PY - "$DATABASE_URL" <<'PYEOF'
import sys, urllib.parse as u
p = u.urlparse(sys.argv[1])
print("--protocol=tcp"); print(f"-h{p.hostname or '127.0.0.1'}"); print(f"-P{p.port or 3306}")
print(f"-u{u.unquote(p.username or 'root')}")
if p.password: print(f"-p{u.unquote(p.password)}")
PYEOF
)
db_url() { # database name -> DATABASE_URL for it (query string kept)
  $PY - "$DATABASE_URL" "$1" <<'PYEOF'
import sys, urllib.parse as u
p = u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path="/" + sys.argv[2])))
PYEOF
}
sql() { mysql "${MYSQL_ARGS[@]}" -N -B "$@"; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

DBS=()
GW_PID=""
GW_NAME=""
cleanup() {
  stop_gateway || true
  if declare -F extra_cleanup >/dev/null; then extra_cleanup || true; fi
  for db in "${DBS[@]}"; do sql -e "drop database if exists \`$db\`" 2>/dev/null || true; done
  say "results, reports and logs are in $RES"
}
trap cleanup EXIT

# --- the gateway ------------------------------------------------------------------------------
ADMIN_TOKEN="bench-admin-token-$$-$RANDOM$RANDOM"
OP_KEY="bench-operator-key"
start_gateway() { # name role [VAR=value...]; GW_START_PAUSED=1 starts with dispatch paused
  GW_NAME="$1"; local role="$2"; shift 2
  local db="sms_bench_$$_$GW_NAME"
  DBS+=("$db")
  GW_PORT=$(free_port); OP_PORT=$(free_port)
  GW_URL="http://127.0.0.1:$GW_PORT"
  GW_DB_URL=$(db_url "$db")
  GW_AMQP=("AMQP_EXCHANGE=sms.bench.$$.$GW_NAME" "AMQP_QUEUE_NORMAL=sms.bench.$$.$GW_NAME.normal"
           "AMQP_QUEUE_EXPRESS=sms.bench.$$.$GW_NAME.express")
  # shellcheck disable=SC2206
  GW_ENV=(LISTEN_ADDR="127.0.0.1:$GW_PORT" ADMIN_TOKEN="$ADMIN_TOKEN" DATABASE_URL="$GW_DB_URL"
    AMQP_URL="$AMQP_URL" "${GW_AMQP[@]}" DB_MAX_CONNECTIONS=100 SHUTDOWN_TIMEOUT_SECS=5
    OPERATORS="[{\"name\":\"lt\",\"url\":\"http://127.0.0.1:$OP_PORT/send\",\"api_key\":\"$OP_KEY\",\"timeout_ms\":2000,\"status_url\":\"http://127.0.0.1:$OP_PORT/status\"}]"
    LOG_FORMAT=json RUST_LOG="${BENCH_RUST_LOG:-info,sqlx=warn,lapin=warn}" "$@" ${BENCH_GATEWAY_ENV:-})
  mkdir -p "$RES/gw"
  if [[ -n "${GW_START_PAUSED:-}" ]]; then
    # Workers read the switch before their first message, so a gateway started paused takes
    # nothing; pausing a running one lets each lane's idle consumer take one more message.
    (cd "$RES/gw" && env "${GW_ENV[@]}" "$GW_BIN" migrate >"$RES/migrate-$GW_NAME.log" 2>&1)
    sql "$db" -e "update dispatch_state set paused = true"
  fi
  GW_ROLE=$role
  launch_gateway
  say "gateway $GW_NAME up (role $role, pid $GW_PID, $GW_URL, operator port $OP_PORT)"
  "$LT_BIN" seed --via db --database-url "$GW_DB_URL" -n 1000 --prefix bench \
    --out "$RES/keys-$GW_NAME.txt" 2>>"$RES/seed.log"
}
launch_gateway() { # (again) the gateway start_gateway set up, same database and queues; waits for /readyz
  (cd "$RES/gw" && exec env "${GW_ENV[@]}" "$GW_BIN" serve --role "$GW_ROLE" >>"$RES/gateway-$GW_NAME.log" 2>&1) &
  GW_PID=$!
  for _ in $(seq 1 240); do
    curl -fs "$GW_URL/readyz" >/dev/null 2>&1 && break
    kill -0 "$GW_PID" 2>/dev/null || { say "gateway $GW_NAME exited:"; tail -20 "$RES/gateway-$GW_NAME.log" >&2; exit 1; }
    sleep 0.25
  done
  curl -fs "$GW_URL/readyz" >/dev/null || { say "gateway $GW_NAME not ready"; exit 1; }
}
stop_gateway() {
  [[ -n "$GW_PID" ]] || return 0
  kill -TERM "$GW_PID" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$GW_PID" 2>/dev/null || true
  wait "$GW_PID" 2>/dev/null || true
  env "${GW_AMQP[@]}" "$LT_BIN" cleanup-amqp --amqp-url "$AMQP_URL" 2>/dev/null || true
  sql -e "drop database if exists \`sms_bench_$$_$GW_NAME\`" || true
  GW_PID=""
}
vmhwm_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$GW_PID/status"; }

snap() { $PY "$PROCSTAT" snap "${GW_PID:-0}" "${MYSQL_ARGS[@]}" >"$RES/$1.json"; }
cpu_of() { # scenario, loadtest cores
  $PY "$PROCSTAT" diff "$RES/$1-before.json" "$RES/$1-after.json" "${2:-}" >"$RES/$1-cpu.json"
}
perf_sample() { # id, seconds to wait first: flat profiles of the gateway and mariadbd
  [[ -n "${BENCH_PERF:-}" ]] || return 0
  local id="$1" wait="$2" db_pid; db_pid=$(pgrep -o -x mariadbd || pgrep -o -x mysqld || true)
  sleep "$wait"
  for who in gateway:$GW_PID mariadbd:$db_pid; do
    local name=${who%%:*} pid=${who#*:}
    [[ -n "$pid" ]] || continue
    perf record -q -e cpu-clock -F 499 -p "$pid" -o "$RES/$id-$name.perf" -- sleep 10 >/dev/null 2>&1 &
  done
  wait
  for name in gateway mariadbd; do
    [[ -f "$RES/$id-$name.perf" ]] || continue
    perf report -i "$RES/$id-$name.perf" --stdio --no-children --sort dso,sym 2>/dev/null |
      grep -v '^#' | grep -v '^$' | head -40 >"$RES/$id-$name-perf.txt" || true
  done
}
lt_run() { # scenario id, then sms-loadtest run arguments
  local id="$1"; shift
  snap "$id-before"
  perf_sample "$id" 5 &
  local perf_pid=$!
  "$LT_BIN" run --url "$GW_URL" --progress lines --out "$RES/$id.json" "$@" | tee "$RES/$id.txt"
  wait "$perf_pid" || true
  snap "$id-after"
  cpu_of "$id" "$(jget "$RES/$id.json" loadtest_cpu.cores)"
}
jget() { # file, dotted path
  $PY - "$1" "$2" <<'PYEOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else (f"{v:.1f}" if isinstance(v, float) else v))
PYEOF
}
# A scenario's result: id, figure, unit, target text, met (true/false/""), details.
result() {
  $PY - "$RES" "$@" <<'PYEOF'
import json, os, sys
res, sid, figure, unit, target, met, details = sys.argv[1:8]
sms_per_s = sys.argv[8] if len(sys.argv) > 8 else ""
cpu = {}
p = os.path.join(res, f"{sid}-cpu.json")
if os.path.exists(p):
    cpu = json.load(open(p))
json.dump({"id": sid, "figure": figure, "unit": unit, "target": target,
           "met": {"true": True, "false": False}.get(met), "details": details, "cpu": cpu,
           "sms_per_s": float(sms_per_s) if sms_per_s else None},
          open(os.path.join(res, f"result-{sid}.json"), "w"))
PYEOF
}
ratio() { $PY -c "import sys; a, b = sys.argv[1:3]; print(f'{float(a)/float(b):.2f}' if a and b and float(b) > 0 else '')" "$1" "$2"; }
ge() { $PY -c "import sys; print('true' if float(sys.argv[1]) >= float(sys.argv[2]) else 'false')" "$1" "$2"; }
le() { $PY -c "import sys; print('true' if float(sys.argv[1]) <= float(sys.argv[2]) else 'false')" "$1" "$2"; }

