"""Memory of one process from /proc/PID/smaps_rollup, for the benchmarks that report per-process memory
(bench_process_tree.py, bench_pipeline.py). Not for anything but Linux."""


def smaps_kb(pid):
    """(PSS, RSS, private) in KiB, zeros if the process is gone. PSS divides shared pages among the processes
    mapping them (what the tree costs the machine); private (Private_Clean + Private_Dirty) does not depend
    on how many processes share the libraries, so deltas between runs are taken from it."""
    pss = rss = priv = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Private_"):
                    priv += int(line.split()[1])
    except OSError:
        pass
    return pss, rss, priv
