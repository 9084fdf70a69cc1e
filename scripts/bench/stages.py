#!/usr/bin/env python3
"""Where a lane's acceptance-to-SENT goes, from a gateway /metrics scrape.

Reads smsgw_delivery_stage_seconds (and smsgw_outbox_publish_duration_seconds) of one lane and
prints each stage's count, mean and p50/p99, interpolated within buckets the way Prometheus's
histogram_quantile does. Used by scripts/bench.sh after B4; also by hand:

    curl -s localhost:8080/metrics | scripts/bench/stages.py express
"""

import re
import sys

SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} (\S+)$")


def parse(text):
    """{(family, frozenset(labels)): value} of the labelled samples."""
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line.strip())
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        try:
            out[(m.group(1), labels)] = float(m.group(3))
        except ValueError:
            pass
    return out


def quantile(q, buckets):
    """histogram_quantile over [(le, cumulative count)] sorted by le."""
    total = buckets[-1][1]
    if total == 0:
        return None
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return prev_le
            span = count - prev_count
            return prev_le + (le - prev_le) * ((rank - prev_count) / span if span else 0)
        prev_le, prev_count = le, count
    return prev_le


def summary(samples, family, want):
    """(count, mean, p50, p99) of a histogram's series whose labels include `want`."""
    buckets, total, count = {}, 0.0, 0.0
    for (name, labels), value in samples.items():
        d = dict(labels)
        if any(d.get(k) != v for k, v in want.items()):
            continue
        if name == family + "_bucket":
            le = float("inf") if d["le"] == "+Inf" else float(d["le"])
            buckets[le] = buckets.get(le, 0.0) + value
        elif name == family + "_sum":
            total += value
        elif name == family + "_count":
            count += value
    if not count:
        return None
    ordered = sorted(buckets.items())
    return count, total / count, quantile(0.5, ordered), quantile(0.99, ordered)


def main():
    lane = sys.argv[1] if len(sys.argv) > 1 else "express"
    samples = parse(sys.stdin.read())
    parts = []
    rows = [
        ("publish", "smsgw_outbox_publish_duration_seconds", {"lane": lane}),
    ] + [
        (stage, "smsgw_delivery_stage_seconds", {"type": lane, "stage": stage})
        for stage in ("queued", "take", "send", "record")
    ]
    for name, family, want in rows:
        s = summary(samples, family, want)
        if s is None:
            continue
        count, mean, p50, p99 = s
        parts.append(
            f"{name} n={count:.0f} mean {mean * 1000:.1f} p50 {p50 * 1000:.1f} p99 {p99 * 1000:.1f} ms"
        )
    print("; ".join(parts) if parts else "no stage metrics in the scrape")


if __name__ == "__main__":
    main()
