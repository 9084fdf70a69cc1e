#!/usr/bin/env bash
# `make bench`: the benchmark scenarios of docs/BENCHMARKS.md.
# Not written yet: the load-test CLI (loadtest/) and these scenarios are the next piece of
# work after the delivery workers. This script fails loudly rather than print numbers that
# were not measured.
echo "bench: not implemented yet (load-test CLI and scenarios pending; see docs/BENCHMARKS.md)" >&2
exit 2
