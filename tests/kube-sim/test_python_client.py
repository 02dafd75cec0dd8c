#!/usr/bin/python3
"""Debian's python3-kubernetes (22.6) against kube-sim: list, watch, create, replace (and its 409 on a stale
resourceVersion), Leases with six-digit MicroTimes, error bodies it can parse, and its leaderelection module
(ConfigMapLock) electing a leader, then failing over when the leader dies. TAP output."""
import datetime
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubesim import KubeSim, Tap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"


def client_checks(tap, sim):
    from kubernetes import client, config, watch
    from kubernetes.client.rest import ApiException
    api_client = config.new_client_from_config(config_file=sim.kubeconfig)
    v1 = client.CoreV1Api(api_client)
    coord = client.CoordinationV1Api(api_client)

    def create_list():
        for i in range(3):
            v1.create_namespaced_config_map("default", client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name="py-%d" % i, labels={"app": "py"}), data={"i": str(i)}))
        l = v1.list_namespaced_config_map("default", label_selector="app=py")
        assert [c.metadata.name for c in l.items] == ["py-0", "py-1", "py-2"], l
        assert l.metadata.resource_version
        l = v1.list_config_map_for_all_namespaces(label_selector="app=py", limit=2)
        assert len(l.items) == 2 and l.metadata._continue, l.metadata
        l2 = v1.list_config_map_for_all_namespaces(label_selector="app=py", limit=2, _continue=l.metadata._continue)
        assert [c.metadata.name for c in l2.items] == ["py-2"], l2
    tap.run("python: create and list (labels, limit/continue)", create_list)

    def replace_conflict():
        cm = v1.read_namespaced_config_map("py-0", "default")
        cm.data = {"i": "changed"}
        new = v1.replace_namespaced_config_map("py-0", "default", cm)
        assert new.data == {"i": "changed"} and new.metadata.resource_version != cm.metadata.resource_version
        try:
            v1.replace_namespaced_config_map("py-0", "default", cm)  # stale resourceVersion
            raise AssertionError("stale replace accepted")
        except ApiException as e:
            body = json.loads(e.body)
            assert e.status == 409 and body["reason"] == "Conflict" and body["code"] == 409, e
        try:
            v1.read_namespaced_config_map("nope", "default")
            raise AssertionError("missing object read")
        except ApiException as e:
            assert e.status == 404 and json.loads(e.body)["code"] == 404
    tap.run("python: replace, 409 on a stale resourceVersion, 404 body with code", replace_conflict)

    def leases():
        now = datetime.datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=datetime.timezone.utc)
        body = client.V1Lease(metadata=client.V1ObjectMeta(name="py-lease"), spec=client.V1LeaseSpec(
            holder_identity="py", lease_duration_seconds=15, acquire_time=now, renew_time=now, lease_transitions=0))
        l = coord.create_namespaced_lease("default", body)
        assert l.spec.renew_time == now and l.spec.holder_identity == "py", l
        l.spec.holder_identity = "py-2"
        l2 = coord.replace_namespaced_lease("py-lease", "default", l)
        assert l2.spec.holder_identity == "py-2"
        ls = coord.list_lease_for_all_namespaces()
        assert "py-lease" in [x.metadata.name for x in ls.items]
        coord.delete_namespaced_lease("py-lease", "default")
    tap.run("python: CoordinationV1Api lease create/replace/list/delete with MicroTime", leases)

    def watch_events():
        rv = v1.list_namespaced_config_map("default").metadata.resource_version
        v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="wpy")))
        v1.delete_namespaced_config_map("wpy", "default")
        seen = []
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=10,
                           allow_watch_bookmarks=True):
            seen.append((ev["type"], ev["object"].metadata.name))
            if len(seen) == 2:
                w.stop()
        assert seen == [("ADDED", "wpy"), ("DELETED", "wpy")], seen

        # live events arrive while the watch is open
        got = []

        def consume():
            w2 = watch.Watch()
            for ev in w2.stream(v1.list_namespaced_config_map, "default", timeout_seconds=10, label_selector="live=1"):
                got.append(ev["type"])
                if "MODIFIED" in got:
                    w2.stop()
        t = threading.Thread(target=consume)
        t.start()
        time.sleep(0.5)
        v1.create_namespaced_config_map("default", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="live", labels={"live": "1"})))
        v1.patch_namespaced_config_map("live", "default", {"data": {"x": "y"}})
        t.join(15)
        assert got == ["ADDED", "MODIFIED"], got
    tap.run("python: watch replays from a resourceVersion and streams live events (patch included)", watch_events)

    def watch_expired():
        rv = v1.list_namespaced_config_map("default").metadata.resource_version
        v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="exp")))
        sim.compact()
        try:
            for ev in watch.Watch().stream(v1.list_namespaced_config_map, "default", resource_version=rv,
                                           timeout_seconds=5):
                raise AssertionError("event from a compacted resourceVersion: %r" % (ev,))
            raise AssertionError("no error for a compacted resourceVersion")
        except ApiException as e:
            assert e.status == 410 and "Expired" in e.reason and "too old resource version" in e.reason, e
    tap.run("python: watch from a compacted resourceVersion raises ApiException 410 Expired", watch_expired)


def read_line(proc, word, limit_s):
    """Waits up to limit_s for a stdout line of proc containing word; returns it or None."""
    deadline = time.monotonic() + limit_s
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if not r:
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            return None
        buf += chunk
        for line in buf.decode(errors="replace").splitlines():
            if word in line:
                return line
    return None


def holder(sim):
    st, _, cm = sim.request("GET", "/api/v1/namespaces/default/configmaps/py-leader")
    if st != 200:
        return None
    return json.loads(cm["metadata"]["annotations"][LEADER_ANNOTATION])["holderIdentity"]


def election(tap, sim):
    procs = {}

    def start(ident):
        procs[ident] = subprocess.Popen([sys.executable, os.path.join(HERE, "py_candidate.py"), sim.kubeconfig,
                                         "default", "py-leader", ident], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        return procs[ident]

    try:
        def elects():
            a = start("cand-a")
            assert read_line(a, "LEADING cand-a", 20), "cand-a never led"
            b = start("cand-b")
            assert read_line(b, "LEADING", 4) is None, "cand-b led while cand-a renews"
            assert holder(sim) == "cand-a", holder(sim)
        tap.run("python leaderelection (ConfigMapLock): first candidate leads, second waits", elects)

        def fails_over():
            procs["cand-a"].send_signal(signal.SIGKILL)
            procs["cand-a"].wait(5)
            t0 = time.monotonic()
            assert read_line(procs["cand-b"], "LEADING cand-b", 20), "cand-b never took over"
            took = time.monotonic() - t0
            assert holder(sim) == "cand-b", holder(sim)
            # the audit log shows who held the lock when: a's writes, then b's
            holders = []
            for e in sim.audit_entries():
                if e["name"] == "py-leader":
                    h = json.loads(e["object"]["metadata"]["annotations"][LEADER_ANNOTATION])["holderIdentity"]
                    if not holders or holders[-1] != h:
                        holders.append(h)
            assert holders == ["cand-a", "cand-b"], holders
            assert took >= 1.0, took  # waited for the lock to expire
        tap.run("python leaderelection: after the leader dies the other takes over; audit shows the order",
                fails_over)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()


def main():
    tap = Tap()
    try:
        import kubernetes  # noqa: F401
    except ImportError as e:
        tap.skip("python3-kubernetes tests", "module missing: %s" % e)
        return tap.done()
    with KubeSim() as sim:
        client_checks(tap, sim)
        election(tap, sim)
        tap.eq(sim.stop(), 0, "simulator exits cleanly after the python client run")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
