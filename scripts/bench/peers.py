#!/usr/bin/env python3
"""The summary of `make bench-peers` (scripts/bench/peers.sh): Kannel and the gateway, same load.

  peers.py RESULTS_DIR COMMIT MACHINE KANNEL DURATION RATE CONNECTIONS OPERATOR_MS

Reads <id>.json (the load tester's report) and <id>-cpu.json (procstat.py diff) for K1, K2
(Kannel flat out, fixed rate) and G1, G2 (the gateway), and prints a Markdown table with the
ratios gateway / Kannel. Only what was measured is printed; a missing run is left out.
"""
import json
import os
import sys


def load(res, sid):
    try:
        with open(os.path.join(res, f"{sid}.json")) as f:
            report = json.load(f)
    except OSError:
        return None
    cpu = {}
    p = os.path.join(res, f"{sid}-cpu.json")
    if os.path.exists(p):
        with open(p) as f:
            cpu = json.load(f).get("cores") or {}
    return report, cpu


def num(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"


def row(sid, what, report, cpu, kannel):
    intake = report["intake"]
    e2e = report.get("e2e") or {}
    lat = e2e.get("latency") or {}
    delivered = e2e.get("steady_arrivals_per_s")
    # CPU of the system under test: Kannel's boxes, or the gateway with its database and broker.
    parts = ["kannel"] if kannel else ["gateway", "mariadbd", "rabbitmq"]
    sut = sum(cpu.get(k) or 0.0 for k in parts)
    per_sms = sut / delivered * 1000 if delivered else None
    cores = ", ".join(f"{k} {cpu[k]}" for k in ("kannel", "gateway", "mariadbd", "rabbitmq", "loadtest")
                      if cpu.get(k))
    flat = "flat" if e2e.get("backlog_flat") else f"growing {num(e2e.get('backlog_growth_per_s'))}/s"
    return {
        "delivered": delivered, "intake": intake.get("accepted_per_s"), "p99": lat.get("p99_ms"),
        "line": f"| {sid} | {what} | {num(intake.get('accepted_per_s'))} | {num(delivered)} ({flat}) | "
                f"{num(lat.get('p50_ms'), 1)} / {num(lat.get('p99_ms'), 1)} | "
                f"{num(intake['latency'].get('p99_ms') if intake.get('latency') else None, 1)} | "
                f"{e2e.get('missing', '-')} | {intake.get('status_5xx', '-')} | "
                f"{num(per_sms, 3)} | {cores} |",
    }


def main():
    res, commit, machine, kannel, duration, rate, conns, op_ms = sys.argv[1:9]
    what = {
        "K1": f"Kannel, closed loop {conns} in flight",
        "K2": f"Kannel, {rate} requests/s",
        "G1": f"gateway, closed loop {conns} in flight",
        "G2": f"gateway, {rate} requests/s",
    }
    rows = {}
    for sid in ("K1", "K2", "G1", "G2"):
        got = load(res, sid)
        if got:
            rows[sid] = row(sid, what[sid], got[0], got[1], sid.startswith("K"))
    print(f"## bench-peers: commit {commit}, {kannel}, {machine}")
    print(f"One recipient a request, GSM text, {duration} s of load each; the gateway's operator "
          f"answers in {op_ms} ms, Kannel's fake SMSC at once.\n")
    print("| run | load | intake (202/s) | delivered/s (backlog) | accept -> SMSC p50 / p99 ms "
          "| intake p99 ms | missing | 5xx | CPU ms per delivered SMS | CPU (cores) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for sid in ("K1", "K2", "G1", "G2"):
        if sid in rows:
            print(rows[sid]["line"])
    print()

    def ratio(a, b, key):
        x, y = rows.get(a, {}).get(key), rows.get(b, {}).get(key)
        return f"{x / y:.2f}" if x and y else "-"
    print(f"- flat out, gateway / Kannel: intake {ratio('G1', 'K1', 'intake')}, "
          f"delivered {ratio('G1', 'K1', 'delivered')}")
    # Kannel hands a message to its SMSC before it answers, so its p99 is near 0 and a ratio
    # of the two would say nothing: both are printed.
    p99 = lambda sid: num(rows.get(sid, {}).get("p99"), 1)
    print(f"- at {rate} requests/s, gateway / Kannel: delivered {ratio('G2', 'K2', 'delivered')}; "
          f"accept -> SMSC p99 gateway {p99('G2')} ms, Kannel {p99('K2')} ms")


if __name__ == "__main__":
    main()
