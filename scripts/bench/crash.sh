# shellcheck shell=bash
# B7 of `make bench` (sourced by scripts/bench.sh, whose functions it uses): three SIGKILLs of
# the gateway during B3-shaped load. The operator runs as its own process (`sms-loadtest
# operator`), so it outlives the kills and sees every call; it deduplicates by the gateway's
# `reference`, as an operator honouring the idempotency key would.
#
# Prints and records: lost (accepted recipients, i.e. status rows, that never reached the
# operator once nothing is open any more), repeated operator calls (sends with a reference the operator had already seen) per
# kill, duplicates delivered despite that deduplication (the same request, sequence and
# recipient under another reference), the gateway's status lookups (its OPERATORS name the
# operator's status_url, so a recipient taken again is asked for before it is sent), and the
# time from each kill until the restarted
# gateway delivered again. Targets: 0 lost, <= 50 repeated calls per kill, 0 duplicates.
#
# Overrides: BENCH_B7_RATE (requests/s, default 500 as in B3, 10 recipients each), BENCH_DURATION.

B7_RATE="${BENCH_B7_RATE:-500}"
B7_KILLS=3
b7_stats() { curl -fsS "http://127.0.0.1:$OP_PORT/stats"; }
b7_stat() { b7_stats | $PY -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

start_gateway B7 all
"$LT_BIN" operator --listen "127.0.0.1:$OP_PORT" --latency-ms 2 >"$RES/B7-operator.log" 2>&1 &
B7_OP_PID=$!
for _ in $(seq 1 40); do b7_stats >/dev/null 2>&1 && break; sleep 0.25; done
b7_stats >/dev/null || { say "B7: the operator did not start"; exit 1; }
load_s=$(dur 60)
say "B7: open loop $B7_RATE req/s x 10 recipients, 10 % express, text mix, $load_s s; SIGKILL at 1/4, 2/4, 3/4"
snap B7-before
"$LT_BIN" run --url "$GW_URL" --keys "$RES/keys-B7.txt" --rate "$B7_RATE" --duration "$load_s" \
  --recipients 10 --express-ratio 0.1 --text mix --e2e --operator-url "http://127.0.0.1:$OP_PORT" \
  --connections 256 --timeout 10 --drain-timeout 180 --progress lines --out "$RES/B7.json" >"$RES/B7.txt" 2>&1 &
LT_PID=$!
recover=()
gap=$($PY -c "import sys; print(float(sys.argv[1]) / 4)" "$load_s")
for k in $(seq 1 $B7_KILLS); do
  sleep "$gap"
  killed_at=$(date +%s.%N)
  kill -KILL "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
  before=$(b7_stat received)
  say "B7: kill $k (SIGKILL of pid $GW_PID; the operator had $before calls); restarting"
  launch_gateway
  # Recovered: the restarted gateway is ready and the operator receives again.
  for _ in $(seq 1 1200); do (( $(b7_stat received) > before )) && break; sleep 0.1; done
  took=$($PY -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$killed_at")
  recover+=("$took")
  say "B7: kill $k: ready and delivering again ${took} s after the kill (pid $GW_PID)"
done
wait "$LT_PID" || true
snap B7-after
cpu_of B7 "$(jget "$RES/B7.json" loadtest_cpu.cores)"
tail -12 "$RES/B7.txt" >&2
db=$(basename "${GW_DB_URL%%\?*}")
# Recipients a kill left SENDING are taken again once their lease runs out: wait for that.
open_rows() { sql "$db" -e "select count(*) from sms_status where status in ('PENDING','SENDING')"; }
waited=0
while (( $(open_rows) > 0 && waited < 300 )); do
  (( waited % 10 == 0 )) && say "B7: $(open_rows) recipients still open (leases of the killed processes), ${waited} s"
  sleep 1; waited=$((waited + 1))
done
sleep 2
open=$(open_rows)
rows=$(sql "$db" -e "select count(*) from sms_status")
failed=$(sql "$db" -e "select count(*) from sms_status where status = 'FAILED'")
drift=$(sql "$db" -e "select (select sum(balance) from user_balances) - (select sum(amount) from user_transactions)")
# Every row of this database is this run's: those the operator never saw are lost.
lost=$(( rows - $(b7_stat references) ))
repeated=$(b7_stat repeated)
dups=$(b7_stat duplicates_delivered)
calls=$(b7_stat received)
lookups=$(b7_stat lookups); found=$(b7_stat lookups_found)
kill -INT "$B7_OP_PID" 2>/dev/null || true
wait "$B7_OP_PID" 2>/dev/null || true
stop_gateway
errors=$($PY -c "import json,sys; print(sum(json.load(open(sys.argv[1]))['intake']['errors'].values()))" "$RES/B7.json")
per_kill=$($PY -c "import sys; print(f'{int(sys.argv[1]) / int(sys.argv[2]):.0f}')" "$repeated" "$B7_KILLS")
met=false
[[ "$lost" == 0 && "$dups" == 0 && "$drift" == 0 ]] && met=$(le "$per_kill" 50)
result B7 "$per_kill" "repeated operator calls per kill" "0 lost, <= 50 repeated per kill, 0 duplicates" "$met" \
  "$B7_KILLS SIGKILLs at $B7_RATE req/s x 10: lost $lost (of $rows accepted recipients; $failed FAILED), still open $open after ${waited} s, repeated calls $repeated of $calls, status lookups $lookups ($found found), duplicates delivered after dedupe $dups, balance - ledger $drift; intake accepted $(jget "$RES/B7.json" intake.accepted_recipients) recipients ($errors transport errors, $(jget "$RES/B7.json" intake.status_5xx) 5xx); recovery (kill -> delivering) ${recover[*]} s"
