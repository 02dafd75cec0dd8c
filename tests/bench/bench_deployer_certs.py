"""Certificate rotation on the local target, fast lane (`set ssl cert` / `commit ssl cert` through the master
CLI) against the reload lane, on a real HAProxy 2.6 (the rig of tests/integration/test_deployer.py). Prints
the push durations the deployer reports (duration_ms: from push start to the files written, or to the new
worker confirmed by show proc); asserts nothing about time. Results go into docs/performance.md "Deployer".
Run: meson test -C build --benchmark deployer_certs (or HTIC_BIN=build/haproxy-template-ic python3 this)."""
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from test_deployer import Rig  # noqa: E402
from test_deployer_certs import gen, gen_cert, pem, push, started, tls_cfg  # noqa: E402

ROUNDS = 10


def summary(what, ms):
    print(f"{what}: median {statistics.median(ms)} ms, max {max(ms)} ms, n={len(ms)}", flush=True)


def crt_list_cfg(r):
    return tls_cfg(r, ["x"]).replace(f"crt {r.etc}/ssl/x", f"crt-list {r.etc}/general/certificates.list")


def run(tmp, ncerts):
    """ncerts Secrets in a crt-list; each round rotates all of them (fast), then changes the config (reload)."""
    with Rig(tmp) as r:
        names = [f"ns_s{i}.pem" for i in range(ncerts)]
        lst = {"certificates.list": "".join(f"{r.etc}/ssl/{n} [] h{i}.example\n" for i, n in enumerate(names))}
        # two sets of certificates, alternated: every round changes every file's content
        sets = [[pem(gen_cert(tmp, f"r{k}-c{i}")) for i in range(ncerts)] for k in range(2)]
        started(r, crt_list_cfg(r), dict(zip(names, sets[0])), lst)
        fast, after_reload, reload = [], [], []
        gen_no, cur = 2, 0
        for _ in range(ROUNDS):
            cur = 1 - cur
            t = push(r, gen_no, gen(r, crt_list_cfg(r), dict(zip(names, sets[cur])), lst))
            gen_no += 1
            assert t["last_push"]["lane"] == "fast", t
            fast.append(t["last_push"]["duration_ms"])
        for k in range(1, ROUNDS + 1):
            cfg = crt_list_cfg(r).replace("maxconn 100", f"maxconn {100 + k}")
            t = push(r, gen_no, gen(r, cfg, dict(zip(names, sets[cur])), lst))
            gen_no += 1
            assert t["last_push"]["lane"] == "reload", t
            reload.append(t["last_push"]["duration_ms"])
            # a rotation right behind a confirmed reload
            cur = 1 - cur
            t = push(r, gen_no, gen(r, cfg, dict(zip(names, sets[cur])), lst))
            gen_no += 1
            assert t["last_push"]["lane"] == "fast", t
            after_reload.append(t["last_push"]["duration_ms"])
        summary(f"{ncerts} certificate(s) rotated, fast lane", fast)
        summary(f"{ncerts} certificate(s) rotated right after a reload, fast lane", after_reload)
        summary(f"{ncerts} certificate(s), config change, reload lane", reload)


def main():
    for n in (1, 100):
        with tempfile.TemporaryDirectory(prefix="bench-certs-") as tmp:
            run(tmp, n)


if __name__ == "__main__":
    main()
