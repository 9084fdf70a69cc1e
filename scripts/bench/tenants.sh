# shellcheck shell=bash
# B8 and B9 of `make bench` (sourced by scripts/bench.sh, which defines start_gateway, lt_run,
# result, sql, jget...): many customers at very uneven rates.
#
# B8 fairness: customer X's 200,000-message normal bulk (200 requests x 1,000) is queued with
# dispatch paused; dispatch resumes and X's drain rate is measured from the database over
# three segments of one run (BENCH_DURATION/4, /2, /4 seconds): alone, while 100 other
# customers send 1-recipient normal messages at 20/s in all, and alone again. Targets: the
# others' acceptance-to-operator p99 <= 1 s, and X's rate with them >= 90 % of its rate
# alone (the two alone segments together). The operator (`sms-loadtest operator`, 2 ms) runs
# in its own process, so X's sends reach it in both passes.
#
# B9 limits: customer H limited to 100 requests/s (PUT /admin/customers/{id}/limits) sends at
# 300/s while 99 other customers send at 200/s in all, on a gateway of role api, after a pass
# of the others alone. Targets: H's accepted rate within 5 % of its limit (the excess 429),
# and the others' p99 within noise of their pass alone (<= 1.25 x + 2 ms).

b8_db() { basename "${GW_DB_URL%%\?*}"; }
b8_stats() { curl -fsS "http://127.0.0.1:$OP_PORT/stats"; }
b8_now() { date +%s.%N; }

b8_flood() { # id: a gateway with X's bulk queued and dispatch paused, its operator running
  GW_START_PAUSED=1 start_gateway "$1" all
  "$LT_BIN" operator --listen "127.0.0.1:$OP_PORT" --latency-ms 2 >"$RES/$1-operator.log" 2>&1 &
  B8_OP_PID=$!
  for _ in $(seq 1 40); do b8_stats >/dev/null 2>&1 && break; sleep 0.25; done
  b8_stats >/dev/null || { say "$1: the operator did not start"; exit 1; }
  # (awk, not head: under pipefail a reader that stops early fails its writer with SIGPIPE)
  awk '!/^#/ && ++n == 1' "$RES/keys-$1.txt" >"$RES/$1-x.txt"
  awk '!/^#/ && ++n >= 2 && n <= 101' "$RES/keys-$1.txt" >"$RES/$1-others.txt"
  B8_X=$(cut -f1 "$RES/$1-x.txt")
  say "$1: dispatch paused; queueing customer $B8_X's 200,000 normal messages (200 x 1,000)"
  "$LT_BIN" run --url "$GW_URL" --keys "$RES/$1-x.txt" --concurrency 8 --requests 200 --duration 600 \
    --recipients 1000 --text gsm --progress none --out "$RES/$1-flood.json" >"$RES/$1-flood.txt"
}
b8_x_sent() { sql "$(b8_db)" -e "select count(*) from sms_status where user_id = $B8_X and status in ('SENT','DELIVERED')"; }
b8_done() { # stop the operator and the gateway
  kill -INT "$B8_OP_PID" 2>/dev/null || true
  wait "$B8_OP_PID" 2>/dev/null || true
  stop_gateway
}
b8_rate() { $PY -c "import sys; a, b, t0, t1 = map(float, sys.argv[1:5]); print(f'{(b - a) / (t1 - t0):.1f}')" "$@"; }

if want B8; then
  # One gateway, one bulk, three segments: X alone, X with the others, X alone again; the
  # bulk's rate with the others is compared with its rate alone around them, so drift of the
  # machine between two gateways does not enter the ratio.
  seg=$($PY -c "import sys; print(max(4, round(float(sys.argv[1]) / 4)))" "$(dur 30)")
  b8_flood B8
  curl -fsS -X POST -H "Authorization: Bearer $ADMIN_TOKEN" "$GW_URL/admin/dispatch/resume" >/dev/null
  s0=$(b8_x_sent); t0=$(b8_now)
  say "B8: X alone, $seg s"
  sleep "$seg"
  s1=$(b8_x_sent); t1=$(b8_now)
  say "B8: X with 100 other customers at 20 msg/s in all, $((2 * seg)) s"
  lt_run B8 --keys "$RES/B8-others.txt" --rate 20 --duration "$((2 * seg))" --recipients 1 --express-ratio 0 \
    --text gsm --e2e --operator-url "http://127.0.0.1:$OP_PORT" --drain-timeout 30
  s2=$(b8_x_sent); t2=$(b8_now)
  say "B8: X alone again, $seg s"
  sleep "$seg"
  s3=$(b8_x_sent); t3=$(b8_now)
  left=$(( 200000 - s3 ))
  B8_ALONE=$($PY -c "import sys; s0, s1, s2, s3, t0, t1, t2, t3 = map(float, sys.argv[1:9]); print(f'{((s1 - s0) + (s3 - s2)) / ((t1 - t0) + (t3 - t2)):.1f}')" "$s0" "$s1" "$s2" "$s3" "$t0" "$t1" "$t2" "$t3")
  B8_SHARED=$(b8_rate "$s1" "$s2" "$t1" "$t2")
  b8_done
  p99=$(jget "$RES/B8.json" e2e.latency_by_type.normal.p99_ms)
  share=$(ratio "$B8_SHARED" "$B8_ALONE")
  met=false
  [[ -n "$p99" && -n "$share" && "$left" -gt 0 ]] && met=$($PY -c "import sys; print('true' if float(sys.argv[1]) <= 1000 and float(sys.argv[2]) >= 0.9 else 'false')" "$p99" "$share")
  result B8 "$p99" "ms p99 of the others (accept->operator) behind a 200,000 bulk" \
    "<= 1,000 ms, bulk >= 90 % of alone" "$met" \
    "others: p50 $(jget "$RES/B8.json" e2e.latency_by_type.normal.p50_ms) ms, max $(jget "$RES/B8.json" e2e.latency_by_type.normal.max_ms) ms, n=$(jget "$RES/B8.json" e2e.latency_by_type.normal.count), missing $(jget "$RES/B8.json" e2e.missing), 5xx $(jget "$RES/B8.json" intake.status_5xx); bulk drained $B8_SHARED SMS/s with them vs $B8_ALONE alone before and after (ratio $share), $left of its 200,000 still queued at the end"
fi

if want B9; then
  start_gateway B9 api
  awk '!/^#/ && ++n == 1' "$RES/keys-B9.txt" >"$RES/B9-hot.txt"
  awk '!/^#/ && ++n >= 2 && n <= 100' "$RES/keys-B9.txt" >"$RES/B9-others.txt"
  hot=$(cut -f1 "$RES/B9-hot.txt")
  curl -fsS -X PUT -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d '{"max_requests_per_sec": 100}' "$GW_URL/admin/customers/$hot/limits" >/dev/null
  say "B9a: 99 customers at 200 req/s alone, $(dur 30) s"
  lt_run B9a --keys "$RES/B9-others.txt" --rate 200 --duration "$(dur 30)" --recipients 1 --text gsm
  say "B9: the same, and customer $hot (limit 100/s) at 300 req/s, $(dur 30) s"
  "$LT_BIN" run --url "$GW_URL" --keys "$RES/B9-hot.txt" --rate 300 --duration "$(dur 30)" --recipients 1 \
    --text gsm --progress none --out "$RES/B9-hot.json" >"$RES/B9-hot.txt.log" 2>&1 &
  hot_pid=$!
  lt_run B9 --keys "$RES/B9-others.txt" --rate 200 --duration "$(dur 30)" --recipients 1 --text gsm
  wait "$hot_pid" || true
  stop_gateway
  hot_rate=$(jget "$RES/B9-hot.json" intake.accepted_per_s)
  hot_429=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['intake']['rejections'].get('429', 0))" "$RES/B9-hot.json")
  base=$(jget "$RES/B9a.json" intake.latency.p99_ms); with=$(jget "$RES/B9.json" intake.latency.p99_ms)
  met=$($PY -c "import sys; r, b, w = map(float, sys.argv[1:4]); print('true' if abs(r / 100 - 1) <= 0.05 and w <= 1.25 * b + 2 else 'false')" "$hot_rate" "$base" "$with")
  result B9 "$hot_rate" "accepted/s of a customer limited to 100/s sending 300/s" \
    "within 5 % of 100/s; others' p99 within noise" "$met" \
    "hot: $(jget "$RES/B9-hot.json" intake.requests) requests, $(jget "$RES/B9-hot.json" intake.accepted) accepted, $hot_429 answered 429, 5xx $(jget "$RES/B9-hot.json" intake.status_5xx); others' intake p99 $with ms with it vs $base ms alone (p50 $(jget "$RES/B9.json" intake.latency.p50_ms) vs $(jget "$RES/B9a.json" intake.latency.p50_ms) ms), 5xx $(jget "$RES/B9.json" intake.status_5xx)"
fi
