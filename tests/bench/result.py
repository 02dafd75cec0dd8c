"""One benchmark result as a machine-readable line, next to the human-readable output every benchmark
prints: `RESULT {"name": ..., "value": ..., "unit": ..., "target": ...}`. tests/bench/run_all.py collects
these lines from each benchmark's stdout to write the performance table. Not for: the table itself."""
import json


def emit(name, value, unit, target=None, better="lower"):
    """name: unique across benchmarks (it is the table's row); better: 'lower' or 'higher' (for regressions)."""
    r = {"name": name, "value": value, "unit": unit, "better": better}
    if target is not None:
        r["target"] = target
    print("RESULT " + json.dumps(r), flush=True)
