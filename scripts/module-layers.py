#!/usr/bin/env python3
"""Checks the layering of src/: every reference from one top-level module to another
(`use crate::x`, `use crate::{x, y::z}` and paths written out in code, `crate::x::f()`)
points to the same layer or below, and the references between top-level modules form no
cycle. Prints the edges; exits 1 on a violation. The layers are docs/ARCHITECTURE.md's."""

import re
import sys
from pathlib import Path

LAYERS = {
    1: ["domain", "config", "hashing", "backoff", "batching", "metrics", "telemetry"],
    2: ["db", "queue", "operators"],
    3: ["intake", "outbox", "worker", "callbacks", "accounts", "mock_operator", "reports"],
    4: ["http", "state"],
    5: ["startup"],
}
LAYER = {m: n for n, mods in LAYERS.items() for m in mods}
SRC = Path(__file__).resolve().parent.parent / "src"


def top_module(path: Path) -> str | None:
    rel = path.relative_to(SRC).parts
    if rel[0] in ("lib.rs", "main.rs"):
        return None
    return rel[0].removesuffix(".rs")


def references(text: str) -> set[str]:
    text = re.sub(r"//[^\n]*", "", text)  # comments and doc comments name modules freely
    found = set(re.findall(r"\bcrate::([a-z_]+)", text))
    for group in re.findall(r"\buse\s+crate::\{([^;]*)\}", text, re.S):
        # Top-level names of a grouped import: each item at brace depth 0.
        depth, item = 0, ""
        for ch in group + ",":
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                name = re.match(r"\s*([a-z_]+)", item)
                if name:
                    found.add(name.group(1))
                item = ""
                continue
            item += ch
    return found


def main() -> int:
    edges: dict[str, set[str]] = {}
    problems = []
    for path in sorted(SRC.rglob("*.rs")):
        src = top_module(path)
        if src is None:
            continue
        if src not in LAYER:
            problems.append(f"{path.relative_to(SRC.parent)}: module `{src}` has no layer")
            continue
        for dst in references(path.read_text()) - {src, "self"}:
            if dst not in LAYER:
                continue
            edges.setdefault(src, set()).add(dst)
            if LAYER[dst] > LAYER[src]:
                problems.append(
                    f"{path.relative_to(SRC.parent)}: {src} (layer {LAYER[src]}) uses "
                    f"{dst} (layer {LAYER[dst]}), a higher layer"
                )
    # Cycle check (depth-first search over the module graph).
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                problems.append("cycle: " + " -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    for src in sorted(edges, key=lambda m: (-LAYER[m], m)):
        print(f"{src} ({LAYER[src]}) -> {', '.join(sorted(edges[src]))}")
    for p in problems:
        print("module-layers: " + p, file=sys.stderr)
    print(f"module-layers: {sum(map(len, edges.values()))} edges, "
          f"{'no cycle, none pointing up' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
