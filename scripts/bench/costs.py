#!/usr/bin/env python3
"""The report of scripts/bench/costs.sh: per delivered SMS, what each phase cost the database.

  costs.py RESULTS_DIR CLK_TCK SHAPE...

Reads, for each shape and phase (intake, delivery), the statement digests and SHOW GLOBAL
STATUS taken before and after (`s<shape>-<phase>-{before,after}-{digests,status}.tsv`) and the
CPU ticks and counts of `s<shape>-<phase>-ticks.txt`, and prints markdown.
"""
import os
import sys

STATUS = [
    ("Com_commit", "commits"),
    # COM_PING and the other admin commands: round trips the statement digests do not show
    # (sqlx pinged every connection it handed out until cut 10).
    ("Com_admin_commands", "pings and other admin commands"),
    ("Handler_write", "rows inserted"),
    ("Handler_update", "rows updated"),
    ("Handler_delete", "rows deleted"),
    ("Handler_read_key", "index lookups"),
    ("Handler_read_next", "index rows read"),
    ("Handler_tmp_write", "temporary table rows"),
    ("Innodb_log_writes", "redo log writes"),
    ("Innodb_data_fsyncs", "data fsyncs"),
    ("Innodb_row_lock_waits", "row lock waits"),
    ("Bytes_received", "bytes from clients"),
    ("Bytes_sent", "bytes to clients"),
]


def read_tsv(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                rows.append(line.rstrip("\n").split("\t"))
    return rows


def digests(res, name):
    out = {}
    for r in read_tsv(os.path.join(res, f"{name}-digests.tsv")):
        if len(r) < 7:
            continue
        digest, count, examined, affected, sent, ms, text = r[:7]
        out[digest] = (int(count), int(examined), int(affected), int(sent), float(ms), text)
    return out


def status(res, name):
    out = {}
    for r in read_tsv(os.path.join(res, f"{name}-status.tsv")):
        if len(r) == 2:
            try:
                out[r[0]] = int(r[1])
            except ValueError:
                pass
    return out


def ticks(res, name):
    with open(os.path.join(res, f"{name}-ticks.txt")) as f:
        words = f.read().split()
    return {words[i]: float(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def label(text):
    """`VERB table` of a digest, for grouping by what it touches."""
    words = text.replace("`", "").split()
    if not words:
        return "?"
    verb = words[0].upper()
    low = [w.lower() for w in words]
    table = ""
    keys = ("into", "from") if verb == "INSERT" else ("from", "into", "update", "join")
    for key in keys:
        if key in low:
            i = low.index(key) + 1
            if i < len(words):
                table = words[i].strip("(),")
                break
    return f"{verb} {table}".strip()


def phase(res, shape, name, hz):
    key = f"s{shape}-{name}"
    before, after = digests(res, f"{key}-before"), digests(res, f"{key}-after")
    st0, st1 = status(res, f"{key}-before"), status(res, f"{key}-after")
    t = ticks(res, key)
    n = t.get("recipients", 0) or 1
    reqs = t.get("requests", 0)
    rows = []
    for d, (count, examined, affected, sent, ms, text) in after.items():
        b = before.get(d, (0, 0, 0, 0, 0.0, text))
        c = count - b[0]
        if c <= 0 or "performance_schema" in text or "show global status" in text.lower():
            continue
        rows.append((c / n, (examined - b[1]) / n, (affected - b[2]) / n, (ms - b[4]) / n, text))
    rows.sort(key=lambda r: -r[0])
    total = sum(r[0] for r in rows)
    print(f"### {name}: {int(n):,} recipients in {int(reqs):,} requests ({shape} a request)\n")
    summary = [f"statements {total:.2f}"]
    for k, what in STATUS:
        if k in st1:
            summary.append(f"{what} {(st1[k] - st0.get(k, 0)) / n:.2f}")
    cpu = []
    for proc in ("api", "publisher", "worker", "mariadbd", "rabbitmq"):
        if proc in t:
            cpu.append(f"{proc} {t[proc] / hz * 1000 / n:.3f}")
    print("Per SMS: " + ", ".join(summary) + ".\n")
    print("CPU ms per SMS: " + ", ".join(cpu) + ".\n")
    if "operator_calls" in t:
        secs = t.get("seconds", 0)
        rate = f", {n / secs:,.0f} SMS/s" if secs else ""
        print(
            f"AMQP messages published {t['published'] / n:.3f} and consumed {t['consumed'] / n:.3f} per SMS, "
            f"operator calls {t['operator_calls'] / n:.3f} per SMS; drained in {secs:.1f} s{rate}.\n"
        )
    groups = {}
    for r in rows:
        g = groups.setdefault(label(r[4]), [0.0, 0.0, 0.0, 0.0])
        for i in range(4):
            g[i] += r[i]
    print("| per SMS: statements | rows examined | rows affected | server ms | what |")
    print("|---:|---:|---:|---:|---|")
    for what, g in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        print(f"| {g[0]:.3f} | {g[1]:.2f} | {g[2]:.2f} | {g[3]:.3f} | {what} |")
    print("\n<details><summary>every statement</summary>\n")
    print("| per SMS | rows examined | rows affected | server ms | statement |")
    print("|---:|---:|---:|---:|---|")
    for c, e, a, ms, text in rows:
        short = text if len(text) <= 160 else text[:157] + "..."
        print(f"| {c:.3f} | {e:.2f} | {a:.2f} | {ms:.3f} | `{short}` |")
    print("\n</details>\n")


def main():
    res, hz = sys.argv[1], float(sys.argv[2])
    print("## What one SMS costs (scripts/bench/costs.sh)\n")
    for shape in sys.argv[3:]:
        print(f"## {shape} recipient(s) a request\n")
        for name in ("intake", "delivery"):
            phase(res, shape, name, hz)


if __name__ == "__main__":
    main()
