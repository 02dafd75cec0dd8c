#!/usr/bin/env python3
"""The supervisor's forwarding under backpressure, with the real binary against the API simulator: while the
renderer is stopped (SIGSTOP) the reconciler keeps forwarding large deltas to it; the supervisor stops reading
the reconciler once ROUTER_QUEUE_HIGH waits for the renderer, so its memory stays bounded instead of holding
every frame, the paused reconciler is not killed as hung, and after SIGCONT every frame arrives."""
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

import harness as h

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402

# Each ConfigMap is big enough that a deltas frame carries one (two would pass IPC_FRAME_MAX, 1 MiB), so the
# renderer is owed exactly one frame per object: 48 x 600 KB, about 29 MB, an initial list of 10k objects.
OBJ_BYTES = 600_000
OBJECTS = 48
# router.h: ROUTER_QUEUE_HIGH (4 MiB) plus the frame that crossed it, a read under way and the decoder's
# partial frame; the supervisor's own heap noise on top. Without the bound it held all ~29 MB.
RSS_GROWTH_BOUND_KIB = 14 * 1024

WATCH = """watched_resources:
  maps:
    api_version: v1
    resources: configmaps
    namespace: apps
    index_by: [metadata.name]
"""


def read_bytes(pid):
    with open(f"/proc/{pid}/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])


def debug_ipc(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/vars", timeout=5) as r:
            return json.loads(r.read())["ipc"]
    except (urllib.error.URLError, OSError):
        return None


def ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def cmap(i):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"big-{i:03d}", "namespace": "apps"},
            "data": {"blob": f"{i:06d}" + "x" * OBJ_BYTES}}


def test_stopped_renderer_pauses_the_reconciler_and_every_frame_arrives(tmp):
    # under ASan freed blocks wait in a quarantine before reuse: RSS would count what passed, not what is held
    asan = ":".join(o for o in (os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=1") if o)
    with KubeSim(auto_namespaces=True) as sim:
        port = h.free_port()
        cfg = h.config(tmp, http_port=port, kubeconfig=sim.kubeconfig, extra=WATCH)
        with h.Proc([h.HTIC_BIN, "run", "--config", cfg], tmp, name="supervisor", env={"ASAN_OPTIONS": asan}) as p:
            h.wait_for(lambda: ready(port), timeout=30, what="all children up")
            kids = p.children()
            renderer, reconciler = kids["renderer"], kids["reconciler"]
            start = debug_ipc(port)["routes"]["deltas"]
            rss_before = h.vm_kib(p.pid, "VmRSS")
            hwm_before = h.vm_kib(p.pid, "VmHWM")
            read_before = read_bytes(renderer)
            os.kill(renderer, signal.SIGSTOP)
            stopped_at = time.monotonic()
            try:
                for i in range(OBJECTS):
                    st, _, body = sim.request("POST", "/api/v1/namespaces/apps/configmaps", cmap(i))
                    assert st in (200, 201), (st, body)
                h.wait_for(lambda: "reconciler" in (debug_ipc(port) or {}).get("paused", []), timeout=6,
                           what="the reconciler paused for the stopped renderer")
                ipc = debug_ipc(port)
                assert ipc["congested"] == ["renderer"], ipc
                time.sleep(1)  # what the reconciler would still push, it pushes now
                rss_stopped = h.vm_kib(p.pid, "VmRSS")
            finally:
                stopped_s = time.monotonic() - stopped_at
                os.kill(renderer, signal.SIGCONT)
            # after SIGCONT every frame is forwarded, none dropped, and nobody holds anyone back any more
            h.wait_for(lambda: (lambda i: i and i["routes"]["deltas"]["forwarded"] - start["forwarded"] >= OBJECTS
                                and not i["paused"] and not i["congested"])(debug_ipc(port)), timeout=60,
                       what="every deltas frame forwarded after SIGCONT")
            end = debug_ipc(port)
            assert end["routes"]["deltas"]["forwarded"] - start["forwarded"] == OBJECTS, (start, end)
            assert end["routes"]["deltas"]["dropped"] == start["dropped"], (start, end)
            assert end["pauses"] >= 1 and end["congestions"] >= 1, end
            # ... and read by the renderer, the same process: neither it nor the paused reconciler was killed
            h.wait_for(lambda: read_bytes(renderer) - read_before >= OBJECTS * OBJ_BYTES, timeout=30,
                       what="the renderer read every frame")
            now = p.children()
            assert now.get("renderer") == renderer and now.get("reconciler") == reconciler, (kids, now)
            assert "killing hung child" not in p.text(), p.text()
            hwm = h.vm_kib(p.pid, "VmHWM")
            print(f"# supervisor RSS KiB: before {rss_before}, renderer stopped {rss_stopped} "
                  f"(for {stopped_s:.1f} s), peak {hwm} (was {hwm_before}); sent "
                  f"{OBJECTS * OBJ_BYTES // 1024} KiB; pauses {end['pauses']}")
            assert hwm - rss_before < RSS_GROWTH_BOUND_KIB, (rss_before, rss_stopped, hwm)


if __name__ == "__main__":
    h.run([test_stopped_renderer_pauses_the_reconciler_and_every_frame_arrives])
