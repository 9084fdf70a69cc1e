#!/usr/bin/env bash
# `make bench`: the scenarios of docs/BENCHMARKS.md, in one go on this machine.
#
#   C1/C2  ceiling: the gateway's own SQL of one acceptance (1 / 100 recipients), mysqlslap, 32
#          connections, on a scratch database with the project's schema
#   B1     intake, 1 recipient, 1,000 customers, 64 connections        (target >= 1.5 x C1)
#   B2     intake, 1,000 recipients per request                         (target >= 0.8 x C2)
#   B3     end to end, operator at 2 ms, open loop 60 s                 (target >= 5,000 SMS/s, flat backlog)
#   B3-1   B3 with one recipient a request (most real traffic)          (target >= 5,000 SMS/s, flat backlog)
#   B3-CB  B3 with delivery-status callbacks for every customer, the load tester receiving
#          them (targets: every SENT/FAILED reaches the endpoint, callback lag p99 <= 1 s,
#          >= 0.9 x B3's SMS/s when B3 ran too)
#   B4     express at 50/s behind 200,000 queued normal messages        (target p99 <= 100 ms)
#   B5     one hot customer, 64 connections                             (target >= 0.8 x B1)
#   B6     peak RSS (VmHWM) of the gateway during B1                    (target <= 100 MB)
#   B7     three SIGKILLs during B3-shaped load (scripts/bench/crash.sh) (targets: 0 lost, <= 50
#          repeated operator calls per kill, 0 duplicates delivered after the operator's dedupe)
#   B8     fairness: 100 customers at 20/s in all behind one customer's 200,000 normal bulk
#          (scripts/bench/tenants.sh)                                  (targets: their p99 <= 1 s,
#          the bulk >= 90 % of its rate alone)
#   B9     limits: a customer limited to 100 requests/s sending 300/s beside 99 others
#          (targets: within 5 % of its limit accepted, the others' p99 within noise)
#
# It builds release binaries, uses DATABASE_URL / AMQP_URL from scripts/services.sh, creates a
# fresh database (and exchange/queues) per gateway it starts, starts and stops the gateway
# itself, prints progress and a summary table, and writes everything it measured (the summary,
# summary.md, with one row per scenario; each scenario's JSON report, CPU samples and the
# gateways' logs) to target/bench/<UTC timestamp>/, whose path it prints at the end. It never
# edits docs/BENCHMARKS.md: a person updates that from summary.md. Only measured figures are
# written; a target is "met" or "not met" only when everything it compares was measured in the
# same run.
#
# Overrides: BENCH_ONLY=C1,B1 (scenarios), BENCH_DURATION=10 (seconds of each load phase),
# BENCH_B3_RATE / BENCH_B3_RECIPIENTS (offered B3 and B3-CB load, default 500 req/s x 10), BENCH_B3_1_RATE
# (offered B3-1 load, default 2,000 req/s x 1),
# BENCH_RUST_LOG (gateway log filter), BENCH_GATEWAY_ENV
# ("WORKERS_NORMAL=4 ..." added to every gateway's environment, for experiments), BENCH_PERF=1
# (a 10 s `perf record -e cpu-clock` of the gateway and mariadbd in the middle of each load,
# flat profiles written next to the reports).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ONLY=",${BENCH_ONLY:-C1,C2,B1,B2,B3,B3-1,B3-CB,B4,B5,B6,B7,B8,B9},"
want() { [[ "$ONLY" == *",$1,"* ]]; }

BENCH_RES="$(date -u +%Y%m%dT%H%M%SZ)"
# shellcheck source=scripts/bench/lib.sh
source "$ROOT/scripts/bench/lib.sh"

START_LOAD=$(cut -d' ' -f1 /proc/loadavg)

# --- C1 / C2: mysqlslap on the gateway's SQL ------------------------------------------------------
slap() { # id, recipients
  local id="$1" n="$2" db="sms_bench_$$_$1"
  DBS+=("$db")
  sql -e "drop database if exists \`$db\`; create database \`$db\`"
  cat migrations/*.sql | sql "$db"
  scripts/bench/seed.sh 1000 | sql "$db"
  scripts/bench/acceptance-sql.sh "$n" 1000 >"$RES/$id.sql"
  local per_tx; per_tx=$(grep -c ';$' "$RES/$id.sql")
  # Calibrate with ~1,000 transactions, then size the run to the wanted duration.
  local probe; probe=$(mysqlslap "${MYSQL_ARGS[@]}" --create-schema="$db" --no-drop --query="$RES/$id.sql" \
    --delimiter=';' --concurrency=32 --iterations=1 --number-of-queries=$((per_tx * 1000)) |
    awk '/Average number of seconds/ { print $(NF-1) }')
  local secs; secs=$(dur 20)
  local tx; tx=$($PY -c "import sys; print(max(2000, int(1000 / max(float(sys.argv[1]), 0.01) * float(sys.argv[2]))))" "$probe" "$secs")
  local before; before=$(sql "$db" -e "select count(*) from sms_requests")
  say "$id: mysqlslap, 32 connections, ~$tx transactions of $n recipient(s) (probe: 1,000 in ${probe}s)"
  snap "$id-before"
  $PY "$PROCSTAT" child-cpu "$RES/$id-client-cpu.txt" \
    mysqlslap "${MYSQL_ARGS[@]}" --create-schema="$db" --no-drop --query="$RES/$id.sql" --delimiter=';' \
    --concurrency=32 --iterations=1 --number-of-queries=$((per_tx * tx)) | tee "$RES/$id.txt" >&2
  snap "$id-after"
  cpu_of "$id" "$(cat "$RES/$id-client-cpu.txt")"
  local took; took=$(awk '/Average number of seconds/ { print $(NF-1) }' "$RES/$id.txt")
  local done_tx; done_tx=$(( $(sql "$db" -e "select count(*) from sms_requests") - before ))
  local drift; drift=$(sql "$db" -e "select (select sum(balance) from user_balances) - (select sum(amount) from user_transactions)")
  [[ "$drift" == "0" ]] || { say "$id: balance != sum of ledger ($drift)"; exit 1; }
  local rate; rate=$($PY -c "import sys; print(round(int(sys.argv[1]) / float(sys.argv[2])))" "$done_tx" "$took")
  sql -e "drop database \`$db\`"
  if [[ "$n" == 1 ]]; then
    C1=$rate
    result C1 "$rate" "tx/s" "(ceiling)" "" "$done_tx committed in ${took}s; 11 statements per tx incl. the key lookup"
  else
    C2=$(( rate * n ))
    result C2 "$C2" "recipients/s" "(ceiling)" "" "$rate tx/s x $n recipients; $done_tx tx in ${took}s"
  fi
}
C1=""; C2=""; B1=""
want C1 && slap C1 1
want C2 && slap C2 100

# --- B1, B6, B2, B5: intake (role api: no publishers or workers compete for the database) -----
if want B1 || want B6 || want B2 || want B5; then
  start_gateway intake api
  KEYS="$RES/keys-intake.txt"
  if want B1 || want B6 || want B5; then
    say "B1: closed loop, 64 connections, 1 recipient, 1,000 customers, $(dur 30) s"
    lt_run B1 --keys "$KEYS" --concurrency 64 --duration "$(dur 30)" --recipients 1 --text gsm
    B1=$(jget "$RES/B1.json" intake.accepted_per_s)
    r=$(ratio "$B1" "$C1")
    result B1 "$B1" "accepted/s" ">= 1.5 x C1" "$([[ -n "$r" ]] && ge "$r" 1.5)" \
      "p50 $(jget "$RES/B1.json" intake.latency.p50_ms) ms, p99 $(jget "$RES/B1.json" intake.latency.p99_ms) ms; ${r:+B1/C1 = $r; }5xx $(jget "$RES/B1.json" intake.status_5xx)"
    HWM=$(vmhwm_mb)
    result B6 "$HWM" "MB VmHWM" "<= 100 MB" "$(le "$HWM" 100)" "gateway peak RSS from start through B1 (role api)"
  fi
  if want B2; then
    say "B2: closed loop, 32 connections, 1,000 recipients per request, $(dur 30) s"
    lt_run B2 --keys "$KEYS" --concurrency 32 --duration "$(dur 30)" --recipients 1000 --text gsm
    B2=$(jget "$RES/B2.json" intake.recipients_per_s)
    r=$(ratio "$B2" "$C2")
    result B2 "$B2" "recipients/s" ">= 0.8 x C2" "$([[ -n "$r" ]] && ge "$r" 0.8)" \
      "$(jget "$RES/B2.json" intake.accepted_per_s) requests/s, p50 $(jget "$RES/B2.json" intake.latency.p50_ms) ms, p99 $(jget "$RES/B2.json" intake.latency.p99_ms) ms; ${r:+B2/C2 = $r; }5xx $(jget "$RES/B2.json" intake.status_5xx)"
  fi
  if want B5; then
    say "B5: closed loop, 64 connections, one hot customer, $(dur 30) s"
    lt_run B5 --keys "$KEYS" --concurrency 64 --duration "$(dur 30)" --recipients 1 --text gsm --hot
    B5=$(jget "$RES/B5.json" intake.accepted_per_s)
    r=$(ratio "$B5" "$B1")
    result B5 "$B5" "accepted/s" ">= 0.8 x B1" "$([[ -n "$r" ]] && ge "$r" 0.8)" \
      "p50 $(jget "$RES/B5.json" intake.latency.p50_ms) ms, p99 $(jget "$RES/B5.json" intake.latency.p99_ms) ms; ${r:+B5/B1 = $r; }5xx $(jget "$RES/B5.json" intake.status_5xx)"
  fi
  stop_gateway
fi

# --- B3: end to end -------------------------------------------------------------------------
b3_pass() { # id, rate, drain timeout
  start_gateway "$1" all
  say "$1: open loop $2 req/s x ${B3_RECIPIENTS} recipients, 10 % express, text mix, operator 2 ms, $(dur 60) s"
  lt_run "$1" --keys "$RES/keys-$1.txt" --rate "$2" --duration "$(dur 60)" --recipients "$B3_RECIPIENTS" \
    --express-ratio 0.1 --text mix --e2e --operator-listen "127.0.0.1:$OP_PORT" --operator-latency-ms 2 \
    --connections 256 --drain-timeout "$3"
  B3_SENT_DB=$(sql "$(basename "${GW_DB_URL%%\?*}")" -e "select count(*) from sms_status where status in ('SENT','DELIVERED')")
  # The normal lane's stages, record (operator answer -> SENT committed) among them.
  curl -fsS "$GW_URL/metrics" >"$RES/$1-metrics.txt" || true
  B3_STAGES=$($PY "$ROOT/scripts/bench/stages.py" normal <"$RES/$1-metrics.txt")
  stop_gateway
}
b3_scenario() { # id, offered requests/s, recipients a request: B3 and B3-1
  local id="$1" rate="$2"; B3_RECIPIENTS="$3"
  b3_pass "$id" "$rate" 15
  f() { jget "$RES/$1.json" "$2"; }
  steady=$(f "$id" e2e.steady_arrivals_per_s); flat=$(f "$id" e2e.backlog_flat)
  details="offered $(( rate * B3_RECIPIENTS ))/s, intake accepted $(f "$id" intake.recipients_per_s)/s with $(f "$id" intake.status_5xx) 5xx; backlog $(f "$id" e2e.backlog_growth_per_s)/s ($([[ $flat == True ]] && echo flat || echo growing)); accept->operator normal p50 $(f "$id" e2e.latency_by_type.normal.p50_ms) / p99 $(f "$id" e2e.latency_by_type.normal.p99_ms) ms, express p50 $(f "$id" e2e.latency_by_type.express.p50_ms) / p99 $(f "$id" e2e.latency_by_type.express.p99_ms) ms; SENT rows $B3_SENT_DB; normal-lane stages: $B3_STAGES"
  if [[ $flat != True ]]; then
    # Overloaded: the backlog grew. Measure again at 80 % of what was delivered, to report a
    # rate with a flat backlog and its latencies.
    rate2=$($PY -c "import sys; print(max(1, round(0.8 * float(sys.argv[1]) / int(sys.argv[2]))))" "$steady" "$B3_RECIPIENTS")
    say "$id: backlog grew at $(f "$id" e2e.backlog_growth_per_s)/s; second pass at $rate2 req/s"
    b3_pass "${id}b" "$rate2" 60
    steady2=$(f "${id}b" e2e.steady_arrivals_per_s); flat2=$(f "${id}b" e2e.backlog_flat)
    details="$details | at $rate2 req/s: $steady2/s ($(f "${id}b" intake.status_5xx) 5xx), backlog $(f "${id}b" e2e.backlog_growth_per_s)/s ($([[ $flat2 == True ]] && echo flat || echo growing)), normal p50 $(f "${id}b" e2e.latency_by_type.normal.p50_ms) / p99 $(f "${id}b" e2e.latency_by_type.normal.p99_ms) ms, express p50 $(f "${id}b" e2e.latency_by_type.express.p50_ms) / p99 $(f "${id}b" e2e.latency_by_type.express.p99_ms) ms; normal-lane stages: $B3_STAGES"
    first_cpu=$($PY -c "import json,sys; c=json.load(open(sys.argv[1]))['cores']; print(', '.join(f'{k} {v}' for k, v in c.items() if v is not None))" "$RES/$id-cpu.json")
    details="$details | CPU of the first pass: $first_cpu (the CPU column is the second pass)"
    if [[ $flat2 == True ]]; then steady=$steady2; flat=True; fi
    cp "$RES/${id}b-cpu.json" "$RES/$id-cpu.json"
  fi
  local target="$4"
  met=false; [[ $flat == True ]] && met=$(ge "$steady" "$target")
  # The last argument: the SMS/s the CPU column was measured at (for CPU per SMS).
  result "$id" "$steady" "SMS/s to the operator$([[ $flat == True ]] && echo ', flat backlog' || echo ', backlog growing')" \
    ">= $(printf "%'d" "$target") SMS/s" "$met" "$details" "$steady"
}
if want B3; then
  b3_scenario B3 "${BENCH_B3_RATE:-500}" "${BENCH_B3_RECIPIENTS:-10}" 5000
  B3_STEADY=$steady
fi
if want B3-1; then
  # Most real traffic: one recipient a request (issue 13's target: 5,000 SMS/s).
  b3_scenario B3-1 "${BENCH_B3_1_RATE:-2000}" 1 5000
fi

# --- B3-CB: B3 with delivery-status callbacks --------------------------------------------------
# Every customer's webhook points at the load tester's receiver (`run --callbacks-listen`),
# which verifies each POST's signature and counts each event once; the loopback target is
# allowed by CALLBACK_ALLOWED_HOSTS.
if want B3-CB; then
  CB_PORT=$(free_port)
  B3_RECIPIENTS="${BENCH_B3_RECIPIENTS:-10}"
  start_gateway B3-CB all CALLBACK_ALLOWED_HOSTS=127.0.0.1/32
  say "B3-CB: B3's load ($(( ${BENCH_B3_RATE:-500} * B3_RECIPIENTS )) SMS/s offered) with callbacks to 127.0.0.1:$CB_PORT"
  lt_run B3-CB --keys "$RES/keys-B3-CB.txt" --rate "${BENCH_B3_RATE:-500}" --duration "$(dur 60)" \
    --recipients "$B3_RECIPIENTS" --express-ratio 0.1 --text mix --e2e \
    --operator-listen "127.0.0.1:$OP_PORT" --operator-latency-ms 2 --connections 256 \
    --drain-timeout 30 --callbacks-listen "127.0.0.1:$CB_PORT"
  curl -fsS "$GW_URL/metrics" >"$RES/B3-CB-metrics.txt" || true
  stop_gateway
  f() { jget "$RES/B3-CB.json" "$1"; }
  cb_steady=$(f e2e.steady_arrivals_per_s); cb_p99=$(f callbacks.lag.p99_ms)
  cb_complete=$(f callbacks.complete)
  cb_ratio=$(ratio "$cb_steady" "${B3_STEADY:-}")
  met=false
  if [[ $cb_complete == True && -n "$cb_p99" ]] && [[ $(le "$cb_p99" 1000) == true ]]; then
    if [[ -n "$cb_ratio" ]]; then met=$(ge "$cb_ratio" 0.9); else met=""; fi
  fi
  result B3-CB "$cb_steady" "SMS/s to the operator with callbacks" \
    "every event, lag p99 <= 1 s, >= 0.9 x B3" "$met" \
    "callbacks $(f callbacks.events) of $(f callbacks.expected) events ($([[ $cb_complete == True ]] && echo complete || echo incomplete)), $(f callbacks.duplicates) duplicates, $(f callbacks.posts) POSTs, $(f callbacks.bad_signatures) bad signatures; lag p50 $(f callbacks.lag.p50_ms) / p99 ${cb_p99:-?} / max $(f callbacks.lag.max_ms) ms; $(if [[ -n "$cb_ratio" ]]; then echo "$cb_ratio x B3's ${B3_STEADY} SMS/s"; else echo "B3 not run: throughput not compared"; fi); backlog $(f e2e.backlog_growth_per_s)/s" \
    "$cb_steady"
fi

# --- B4: express under a normal flood ---------------------------------------------------------
if want B4; then
  GW_START_PAUSED=1 start_gateway B4 all
  say "B4: dispatch paused; queueing 200,000 normal messages (200 requests x 1,000 recipients)"
  "$LT_BIN" run --url "$GW_URL" --keys "$RES/keys-B4.txt" --concurrency 8 --requests 200 --duration 600 \
    --recipients 1000 --text gsm --progress none --out "$RES/B4-flood.json" >"$RES/B4-flood.txt"
  flood=$(jget "$RES/B4-flood.json" intake.accepted_recipients)
  if grep -q '"operator failed' "$RES/gateway-B4.log"; then
    say "B4: the gateway called the operator while dispatch was paused; the scenario is void"; exit 1
  fi
  say "B4: $flood normal recipients queued; resuming dispatch and sending express at 50/s for $(dur 30) s"
  lt_run B4 --keys "$RES/keys-B4.txt" --rate 50 --duration "$(dur 30)" --recipients 1 --express-ratio 1 \
    --text gsm --e2e --operator-listen "127.0.0.1:$OP_PORT" --operator-latency-ms 2 \
    --resume-dispatch --admin-token "$ADMIN_TOKEN" --drain-timeout 30
  left=$(sql "$(basename "${GW_DB_URL%%\?*}")" -e "select count(*) from sms_status where sms_type = 'normal' and status in ('PENDING','SENDING')")
  # Where express time went, from the gateway's own histograms (docs/OPERATIONS.md).
  curl -fsS "$GW_URL/metrics" >"$RES/B4-metrics.txt" || true
  stages=$($PY "$ROOT/scripts/bench/stages.py" express <"$RES/B4-metrics.txt")
  say "B4: express stages: $stages"
  p99=$(jget "$RES/B4.json" e2e.latency_by_type.express.p99_ms)
  result B4 "$p99" "ms express p99 (accept->operator)" "<= 100 ms" "$([[ -n "$p99" ]] && le "$p99" 100)" \
    "express p50 $(jget "$RES/B4.json" e2e.latency_by_type.express.p50_ms) ms, intake p99 $(jget "$RES/B4.json" intake.latency.p99_ms) ms, 5xx $(jget "$RES/B4.json" intake.status_5xx), max $(jget "$RES/B4.json" e2e.latency_by_type.express.max_ms) ms, n=$(jget "$RES/B4.json" e2e.latency_by_type.express.count); $flood normal queued, $(jget "$RES/B4.json" e2e.foreign) normal delivered during the express run, $left still open after it; gateway stages: $stages"
  stop_gateway
fi

# --- B7: crashes under load ------------------------------------------------------------------
# shellcheck source=scripts/bench/crash.sh
want B7 && source "$ROOT/scripts/bench/crash.sh"

# --- B8, B9: many customers at very uneven rates ---------------------------------------------
# shellcheck source=scripts/bench/tenants.sh
source "$ROOT/scripts/bench/tenants.sh"

# --- summary --------------------------------------------------------------------------------
COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src migrations Cargo.toml Cargo.lock loadtest 2>/dev/null || echo '-dirty')"
MACHINE="nproc $(nproc), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), load $START_LOAD at start"
$PY "$ROOT/scripts/bench/summarize.py" "$RES" "$COMMIT" "$MACHINE"
