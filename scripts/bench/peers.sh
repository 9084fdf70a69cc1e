#!/usr/bin/env bash
# `make bench-peers`: Kannel and the gateway side by side, with the same load, on this machine.
#
# Kannel 1.4.5 from Debian (`kannel`; `kannel-extras` brings its `fakesmsc` test SMSC, whose line
# protocol the load tester speaks) is installed with apt-get when missing, then run from a
# configuration of this script's own (bearerbox + smsbox, store-type file, one `fake` SMSC):
# never the system's /etc/kannel or its service. The gateway runs as in B3-1 (role all, its
# own database and queues, an operator answering in PEERS_OPERATOR_MS). Both get one recipient
# a request, GSM text, 1 customer for Kannel (it has none) and 1,000 for the gateway:
#
#   K1 / G1  flat out: closed loop, PEERS_CONNECTIONS (64) requests in flight, PEERS_DURATION s
#   K2 / G2  fixed rate: open loop at PEERS_RATE (1,000) requests/s, PEERS_DURATION s
#
# measuring intake (202 answers per second), delivered per second (messages reaching the SMSC /
# operator over the second half of the load), acceptance -> SMSC/operator p50 / p99, and the
# CPU of every process. Everything it starts listens on 127.0.0.1 only (checked with `ss`
# before any load) and is stopped by PID at the end. It writes target/bench/peers-<UTC>/
# summary.md (a table and the ratios) and prints it; it never edits docs/BENCHMARKS.md.
#
# Overrides: PEERS_DURATION (20), PEERS_RATE (1000), PEERS_CONNECTIONS (64),
# PEERS_OPERATOR_MS (2), PEERS_ONLY=K1,K2,G1,G2.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BENCH_RES="peers-$(date -u +%Y%m%dT%H%M%SZ)"
DURATION=${PEERS_DURATION:-20}
RATE=${PEERS_RATE:-1000}
CONNECTIONS=${PEERS_CONNECTIONS:-64}
OPERATOR_MS=${PEERS_OPERATOR_MS:-2}
ONLY=",${PEERS_ONLY:-K1,K2,G1,G2},"
want() { [[ "$ONLY" == *",$1,"* ]]; }

# --- Kannel from Debian --------------------------------------------------------------------
BEARERBOX=/usr/sbin/bearerbox
SMSBOX=/usr/sbin/smsbox
if ! [[ -x $BEARERBOX && -x $SMSBOX && -x /usr/lib/kannel/test/fakesmsc ]]; then
  echo "bench: installing kannel and kannel-extras from Debian" >&2
  SUDO=""; [[ $(id -u) == 0 ]] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q kannel kannel-extras >&2
fi
KANNEL_VERSION=$(dpkg-query -W -f='${Version}' kannel 2>/dev/null || echo unknown)

# shellcheck source=scripts/bench/lib.sh
source "$ROOT/scripts/bench/lib.sh"

KDIR="$RES/kannel"
mkdir -p "$KDIR"
K_PIDS=()
extra_cleanup() { stop_kannel; }
stop_kannel() {
  local pid
  for pid in "${K_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${K_PIDS[@]}"; do
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  K_PIDS=()
}

# Every listening socket of these PIDs is on 127.0.0.1 (or ::1); exits otherwise.
only_loopback() { # name pid...
  local name=$1; shift
  local pid bad=""
  for pid in "$@"; do
    bad+=$(ss -Hltunp 2>/dev/null | grep "pid=$pid," | awk '{ print $5 }' |
      grep -v -E '^(127\.0\.0\.1|\[::1\]):' || true)
  done
  if [[ -n "$bad" ]]; then say "$name listens beyond loopback: $bad"; exit 1; fi
  say "$name: every listening socket is on 127.0.0.1"
}

start_kannel() {
  K_ADMIN=$(free_port); K_BOX=$(free_port); K_SMSC=$(free_port); K_SEND=$(free_port)
  K_PASSWORD="bench-$$-$RANDOM$RANDOM"
  rm -rf "$KDIR/store"*
  cat >"$KDIR/kannel.conf" <<EOF
group = core
admin-port = $K_ADMIN
admin-interface = 127.0.0.1
admin-password = "$K_PASSWORD"
admin-allow-ip = "127.0.0.1"
smsbox-port = $K_BOX
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
box-deny-ip = "*.*.*.*"
store-type = file
store-location = "$KDIR/store"
dlr-storage = internal
log-file = "$KDIR/bearerbox.log"
log-level = 2

group = smsc
smsc = fake
smsc-id = fake
port = $K_SMSC
our-host = 127.0.0.1
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $K_BOX
sendsms-port = $K_SEND
sendsms-interface = 127.0.0.1
log-file = "$KDIR/smsbox.log"
log-level = 2

group = sendsms-user
username = bench
password = "$K_PASSWORD"
max-messages = 1
concatenation = false

group = sms-service
keyword = default
text = "not a service"
EOF
  "$BEARERBOX" "$KDIR/kannel.conf" >>"$KDIR/bearerbox.out" 2>&1 &
  K_PIDS+=($!)
  for _ in $(seq 1 80); do ss -Hltn "sport = :$K_BOX" | grep -q . && break; sleep 0.25; done
  "$SMSBOX" "$KDIR/kannel.conf" >>"$KDIR/smsbox.out" 2>&1 &
  K_PIDS+=($!)
  for _ in $(seq 1 80); do ss -Hltn "sport = :$K_SEND" | grep -q . && break; sleep 0.25; done
  ss -Hltn "sport = :$K_SEND" | grep -q . || { say "smsbox did not open its sendsms port"; tail -20 "$KDIR"/*.out >&2; exit 1; }
  only_loopback "kannel (bearerbox, smsbox)" "${K_PIDS[@]}"
  say "kannel $KANNEL_VERSION up: sendsms http://127.0.0.1:$K_SEND, fake SMSC 127.0.0.1:$K_SMSC (pids ${K_PIDS[*]})"
}

k_run() { # id, then loop arguments
  local id="$1"; shift
  snap "$id-before"
  KANNEL_PASSWORD="$K_PASSWORD" "$LT_BIN" run --target kannel --url "http://127.0.0.1:$K_SEND" \
    --kannel-smsc "127.0.0.1:$K_SMSC" --e2e --text gsm --duration "$DURATION" --drain-timeout 120 \
    --progress lines --out "$RES/$id.json" "$@" | tee "$RES/$id.txt"
  snap "$id-after"
  cpu_of "$id" "$(jget "$RES/$id.json" loadtest_cpu.cores)"
}

if want K1 || want K2; then
  start_kannel
  if want K1; then
    say "K1: Kannel flat out, $CONNECTIONS requests in flight, $DURATION s"
    k_run K1 --concurrency "$CONNECTIONS"
  fi
  if want K2; then
    say "K2: Kannel at $RATE requests/s, $DURATION s"
    k_run K2 --rate "$RATE" --connections 256
  fi
  stop_kannel
fi

# --- the gateway, as in B3-1 -----------------------------------------------------------------
g_run() { # id, then loop arguments
  local id="$1"; shift
  start_gateway "$id" all
  only_loopback "gateway" "$GW_PID"
  lt_run "$id" --keys "$RES/keys-$id.txt" --e2e --operator-listen "127.0.0.1:$OP_PORT" \
    --operator-latency-ms "$OPERATOR_MS" --text gsm --duration "$DURATION" --drain-timeout 120 "$@"
  stop_gateway
}
if want G1; then
  say "G1: the gateway flat out, $CONNECTIONS requests in flight, $DURATION s"
  g_run G1 --concurrency "$CONNECTIONS"
fi
if want G2; then
  say "G2: the gateway at $RATE requests/s, $DURATION s"
  g_run G2 --rate "$RATE" --connections 256
fi

COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src migrations Cargo.toml Cargo.lock loadtest 2>/dev/null || echo '-dirty')"
MACHINE="nproc $(nproc), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), load $(cut -d' ' -f1 /proc/loadavg) at the end"
$PY "$ROOT/scripts/bench/peers.py" "$RES" "$COMMIT" "$MACHINE" "kannel $KANNEL_VERSION" \
  "$DURATION" "$RATE" "$CONNECTIONS" "$OPERATOR_MS" | tee "$RES/summary.md"
