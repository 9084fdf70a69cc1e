#!/usr/bin/env python3
"""Prints the summary table of a bench run and writes it to RESULTS_DIR/summary.md.

  summarize.py RESULTS_DIR COMMIT MACHINE

Reads RESULTS_DIR/result-<id>.json (written by scripts/bench.sh) and writes summary.md: the
run's date, commit and machine, then one table row per scenario in the form of the table in
docs/BENCHMARKS.md ("The latest full run"), which a person updates from it.
"""
import datetime
import glob
import json
import os
import sys

ORDER = ["C1", "C2", "B1", "B2", "B3", "B3-1", "B3-CB", "B4", "B5", "B6", "B7", "B8", "B9"]
HEADER = (
    "| scenario | figure | target | met | details | CPU (cores) |\n"
    "|---|---|---|---|---|---|\n"
)


def cpu_text(cpu):
    c = cpu.get("cores") or {}
    parts = []
    for key, label in [("mariadbd", "mariadbd"), ("rabbitmq", "beam.smp"), ("mysqlslap", "mysqlslap"),
                       ("gateway", "gateway"),
                       ("loadtest", "load tester"), ("others", "other"), ("iowait", "iowait")]:
        if c.get(key) is not None and not (key == "mysqlslap" and not c[key]):
            parts.append(f"{label} {c[key]:.2f}")
    db = cpu.get("db_per_s") or {}
    if "Com_commit" in db:
        parts.append(f"commits {db['Com_commit']:.0f}/s")
    if "Innodb_os_log_fsyncs" in db:
        parts.append(f"log fsyncs {db['Innodb_os_log_fsyncs']:.0f}/s")
    elif "Innodb_data_fsyncs" in db:
        parts.append(f"fsyncs {db['Innodb_data_fsyncs']:.0f}/s")
    if db.get("Innodb_row_lock_waits"):
        parts.append(f"row lock waits {db['Innodb_row_lock_waits']:.0f}/s")
    deadlocks = (cpu.get("db_delta") or {}).get("Innodb_deadlocks")
    if deadlocks is not None:
        parts.append(f"deadlocks {deadlocks:.0f}")
    if "loadavg_end" in cpu:
        parts.append(f"load {cpu['loadavg_end']}")
    return ", ".join(parts)


def per_sms_text(r):
    """CPU ms per delivered SMS of every process measured, for end-to-end scenarios."""
    sms = r.get("sms_per_s")
    c = (r.get("cpu") or {}).get("cores") or {}
    if not sms or sms <= 0:
        return ""
    parts = {k: c[k] for k in ("mariadbd", "rabbitmq", "gateway") if c.get(k) is not None}
    if not parts:
        return ""
    total = sum(parts.values()) * 1000 / sms
    each = ", ".join(f"{k} {v * 1000 / sms:.3f}" for k, v in parts.items())
    return f"CPU per SMS {total:.3f} ms ({each})"


def fmt_figure(r):
    try:
        v = float(r["figure"])
        return f"{v:,.0f} {r['unit']}" if v >= 100 else f"{v:,.1f} {r['unit']}"
    except (TypeError, ValueError):
        return f"not measured ({r['unit']})"


def main():
    res, commit, machine = sys.argv[1:4]
    results = {}
    for p in glob.glob(os.path.join(res, "result-*.json")):
        r = json.load(open(p))
        results[r["id"]] = r
    if not results:
        print("bench: no scenario ran", file=sys.stderr)
        sys.exit(1)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    print(f"\nbench summary ({date}, commit {commit}, {machine})")
    print(f"{'scenario':<9}{'figure':<44}{'target':<16}{'met':<9}")
    for sid in ORDER:
        r = results.get(sid)
        if not r:
            continue
        met = {True: "met", False: "not met", None: "-"}[r["met"]]
        print(f"{sid:<9}{fmt_figure(r):<44}{r['target']:<16}{met:<9}")
        print(f"{'':<9}{r['details']}")
        cpu = cpu_text(r["cpu"])
        per_sms = per_sms_text(r)
        if per_sms:
            cpu = f"{per_sms}; {cpu}"
        print(f"{'':<9}CPU: {cpu}")
        rows.append(
            f"| {sid} | {fmt_figure(r)} | {r['target']} | {met} | "
            f"{r['details'].replace('|', '/')} | {cpu} |\n"
        )
    out = os.path.join(res, "summary.md")
    with open(out, "w") as f:
        f.write(f"# make bench, {date}\n\nCommit {commit}; machine: {machine}.\n\n")
        f.write(HEADER + "".join(rows))
    print(f"\nbench: summary written to {out}")


if __name__ == "__main__":
    main()
