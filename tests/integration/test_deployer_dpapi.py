"""The deployer's Data Plane API v3 target against the stand-in (tests/dataplane-sim: a real HAProxy
master-worker behind a faithful Data Plane API) on loopback ports this test picks: the deployer runs as
`--role deployer` on a socketpair this test holds (as in test_deployer.py), with an endpoint `url` and the
password in haproxy.dataplane.password_file, or (with kube-sim) in the Secret named by
haproxy.dataplane.credentials_secret."""
import base64
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "dataplane-sim"))
sys.path.insert(0, os.path.join(HERE, "..", "kube-sim"))
import dpsim  # noqa: E402
import harness  # noqa: E402
from kubesim import KubeSim  # noqa: E402
from test_deployer import Backend, Rig, cfg_text, metric, write_generation  # noqa: E402

RAW = dpsim.B + "/configuration/raw"


class DpRig(Rig):
    """Rig with one Data Plane API endpoint instead of a local HAProxy."""

    def __init__(self, tmp, dp, pods=False, drift="60s", secret=None, kubeconfig=None):
        super().__init__(tmp)
        self.dp = dp
        pw = os.path.join(tmp, "dataplane-password")
        harness.write(pw, dpsim.PASSWORD + "\n")
        os.chmod(pw, 0o600)
        creds = (f"    credentials_secret: {{name: {secret[1]}, namespace: {secret[0]}}}\n" if secret else
                 f"    username: {dpsim.USER}\n    password_file: {pw}\n")
        kube = f"  kubernetes: {{kubeconfig: {kubeconfig}}}\n" if kubeconfig else ""
        targets = ("  pod_selector:\n    match_labels: app=haproxy\n" if pods else
                   f"  endpoints:\n    - name: pod-a\n      url: http://127.0.0.1:{dp.port}\n")
        self.config = harness.write(os.path.join(tmp, "config.yaml"), f"""
controller:
  leader_election:
    enabled: false
  http:
    address: 127.0.0.1
    port: 0
  run_dir: {self.run_dir}
{kube}haproxy:
{targets}
  dataplane:
{creds}  config_file: {dp.work}/haproxy.cfg
  maps_dir: {dp.work}/maps
  ssl_certs_dir: {dp.work}/ssl
  general_dir: {dp.work}/general
deploy:
  min_deployment_interval: 0s
  drift_prevention_interval: {drift}
  deployment_timeout: 20s
haproxy_config:
  template: "global\\n"
""")

    def restart_deployer(self):
        self.p.kill()
        self.p.wait()
        self.ch.close()
        self.pending, self.seen = b"", []
        self.start_deployer()


def raw_posts(dp, checksum):
    return [e for e in dp.audit_entries() if e.get("endpoint") == RAW and e.get("method") == "POST"
            and e.get("checksum") == checksum]


def assert_no_password(r, dp, passwords=(dpsim.PASSWORD,)):
    for text, what in [(r.log(), "deployer log"), (dp.read_log(), "stand-in log"),
                       ("\n".join(map(str, r.seen)), "deployer reports"),
                       (open(os.path.join(r.run_dir, "deploy-audit.jsonl")).read(), "deploy audit")]:
        for pw in passwords:
            assert pw not in text, "the password is in the " + what
            assert base64.b64encode(pw.encode()).decode() not in text, "the password (base64) is in the " + what


def test_dpapi_push_serves_then_same_lkg_is_skipped_then_refused_reload_keeps_serving(tmp):
    fe = harness.free_port()
    a, b = Backend("backend-a"), Backend("backend-b")
    try:
        with dpsim.DataplaneSim(config=dpsim.bootstrap_config(fe)) as dp, DpRig(tmp, dp) as r:
            r.start_deployer()
            g1 = write_generation(r.run_dir, cfg_text(fe, [f"127.0.0.1:{a.port}"]))
            r.lkg(1, g1)
            t = r.push_result(g1)
            assert t["last_push"]["result"] == "ok" and t["last_push"]["lane"] == "reload", t
            assert t["in_sync"] is True and t["checksum"] == g1 and t["kind"] == "dataplaneapi", t
            assert dpsim.get_through(fe) == (200, "backend-a")
            st, _, text = dp.request("GET", RAW)
            assert ("# haproxy-template-ic term=test#1 generation=1 checksum=" + g1) in text.decode()
            assert len(raw_posts(dp, g1)) == 1
            acts = [(e["action"], e["result"]) for e in r.audit() if e["checksum"] == g1]
            assert ("reload", "sent") in acts and ("reload", "ok") in acts and ("push", "ok") in acts, acts

            # a new leader with the same LKG: compare says in sync, nothing is posted
            r.restart_deployer()
            r.lkg(1, g1)
            while True:
                m = r.recv()
                if m["type"] == "deploy_report" and m["targets"][0]["in_sync"]:
                    assert m["targets"][0]["last_push"] is None, m
                    break
            assert len(raw_posts(dp, g1)) == 1, "the same LKG was posted again"

            # a reload the stand-in refuses: reported, and the old config keeps serving
            dp.faults(fail_reloads=1)
            # (a server more than the slots: the change takes the reload lane)
            g2 = write_generation(r.run_dir, cfg_text(fe, [f"127.0.0.1:{b.port}", "127.0.0.1:1 disabled"]))
            r.lkg(2, g2)
            t = r.push_result(g2)
            assert t["last_push"]["result"] == "failed" and "refused" in t["last_error"], t
            assert dpsim.get_through(fe) == (200, "backend-a")
            acts = [(e["action"], e["result"]) for e in r.audit() if e["checksum"] == g2]
            assert ("reload", "refused") in acts and ("push", "failed") in acts, acts
            assert_no_password(r, dp)
    finally:
        a.close()
        b.close()


def test_dpapi_version_conflict_is_retried(tmp):
    fe = harness.free_port()
    a = Backend("backend-a")
    try:
        with dpsim.DataplaneSim(config=dpsim.bootstrap_config(fe)) as dp, DpRig(tmp, dp) as r:
            r.start_deployer()
            r.recv()  # the first report: the deployer is up and has nothing to push
            # every raw request waits 1 s in the stand-in: our GET (which reads the version) is answered,
            # then a write from someone else lands before our POST does
            dp.faults(latency_ms=1000, latency_path=RAW)
            g1 = write_generation(r.run_dir, cfg_text(fe, [f"127.0.0.1:{a.port}"]))
            r.lkg(1, g1)
            # the deployer logs "push" right before its GET raw starts
            harness.wait_for(lambda: " msg=push target=pod-a " in r.log(), timeout=30,
                             what="the push started")
            time.sleep(0.3)
            v = dp.version()
            other = threading.Thread(target=dp.push, args=(dpsim.bootstrap_config(fe), v))
            other.start()
            t = r.push_result(g1)
            other.join()
            assert t["last_push"]["result"] == "ok", t
            assert ("config", "conflict") in [(e["action"], e["result"]) for e in r.audit()], r.audit()
            assert [e["result"] for e in raw_posts(dp, g1)][:1] == [409], raw_posts(dp, g1)
            assert dpsim.get_through(fe) == (200, "backend-a")
            assert_no_password(r, dp)
    finally:
        a.close()


def map_cfg(fe, maps_dir, a, b, with_map=True, lookup="path,map({maps_dir}/routes.map,be_a)"):
    route = f"    use_backend %[{lookup.format(maps_dir=maps_dir)}]\n" if with_map else ""
    return ("global\n    maxconn 100\ndefaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n"
            f"    timeout connect 5s\nfrontend fe\n    bind 127.0.0.1:{fe}\n{route}    default_backend be_a\n"
            f"backend be_a\n    server s1 127.0.0.1:{a.port}\nbackend be_b\n    server s1 127.0.0.1:{b.port}\n")


def test_dpapi_maps_go_to_storage_before_the_config_and_obsolete_ones_are_deleted(tmp):
    fe = harness.free_port()
    a, b = Backend("backend-a"), Backend("backend-b")
    try:
        with dpsim.DataplaneSim(config=dpsim.bootstrap_config(fe)) as dp, DpRig(tmp, dp) as r:
            maps_dir = os.path.join(dp.work, "maps")
            r.start_deployer()
            g1 = write_generation(r.run_dir, map_cfg(fe, maps_dir, a, b), {"routes.map": "/b be_b\n"})
            r.lkg(1, g1)
            t = r.push_result(g1)
            assert t["last_push"]["result"] == "ok", t
            assert dpsim.get_through(fe, path="/b") == (200, "backend-b")
            writes = [(e["method"], e["endpoint"]) for e in dp.audit_entries() if e.get("checksum") in (None, g1)]
            assert writes.index(("POST", dpsim.B + "/storage/maps")) < writes.index(("POST", RAW)), writes

            g2 = write_generation(r.run_dir, map_cfg(fe, maps_dir, a, b), {"routes.map": "/b be_a\n"})
            r.lkg(2, g2)
            assert r.push_result(g2)["last_push"]["result"] == "ok"
            assert dpsim.get_through(fe, path="/b") == (200, "backend-a")
            puts = [e for e in dp.audit_entries() if e.get("method") == "PUT"]
            assert [e["endpoint"] for e in puts] == [dpsim.B + "/storage/maps/routes.map"], puts

            g3 = write_generation(r.run_dir, map_cfg(fe, maps_dir, a, b, with_map=False))
            r.lkg(3, g3)
            assert r.push_result(g3)["last_push"]["result"] == "ok"
            assert not os.path.exists(os.path.join(maps_dir, "routes.map")), "the obsolete map was not deleted"
            dels = [e for e in dp.audit_entries() if e.get("method") == "DELETE"]
            assert [(e["endpoint"], e["result"]) for e in dels] == [(dpsim.B + "/storage/maps/routes.map", 204)], dels
            assert dpsim.get_through(fe, path="/b") == (200, "backend-a")
            assert_no_password(r, dp)
    finally:
        a.close()
        b.close()


def test_dpapi_pods_from_the_targets_message_are_pushed_to_and_forgotten(tmp):
    fe = harness.free_port()
    a = Backend("backend-a")
    try:
        with dpsim.DataplaneSim(config=dpsim.bootstrap_config(fe)) as dp, DpRig(tmp, dp, pods=True) as r:
            r.start_deployer()
            g1 = write_generation(r.run_dir, cfg_text(fe, [f"127.0.0.1:{a.port}"]))
            r.lkg(1, g1)
            pod = {"name": "haproxy-0", "namespace": "ing", "pod": "haproxy-0", "address": "127.0.0.1",
                   "port": dp.port, "kind": "pod"}
            r.send({"type": "targets", "targets": [pod]})
            t = r.push_result(g1)
            assert t["name"] == "ing/haproxy-0" and t["kind"] == "dataplaneapi", t
            assert t["last_push"]["result"] == "ok" and t["in_sync"] is True, t
            assert dpsim.get_through(fe) == (200, "backend-a")
            r.send({"type": "targets", "targets": []})
            while True:
                m = r.recv()
                if m["type"] == "deploy_report" and not m["targets"]:
                    break
            assert_no_password(r, dp)
    finally:
        a.close()


def test_dpapi_an_edit_behind_our_back_that_keeps_our_header_is_repaired(tmp):
    fe = harness.free_port()
    a, b = Backend("backend-a"), Backend("backend-b")
    try:
        with dpsim.DataplaneSim(config=dpsim.bootstrap_config(fe)) as dp, DpRig(tmp, dp, drift="1s") as r:
            r.start_deployer()
            g1 = write_generation(r.run_dir, cfg_text(fe, [f"127.0.0.1:{a.port}"]))
            r.lkg(1, g1)
            assert r.push_result(g1)["last_push"]["result"] == "ok"
            st, _, text = dp.request("GET", RAW)
            edited = text.decode().replace(f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}")
            st, _, _ = dp.push("".join(l + "\n" for l in edited.splitlines() if not l.startswith("# _")))
            assert st == 202, st
            harness.wait_for(lambda: dpsim.get_through(fe) == (200, "backend-b"), 30, what="the edit serves")
            while True:  # the drift check sees the stored file changed and pushes g1 again
                m = r.recv()
                if m["type"] == "deploy_report" and (m["targets"][0].get("last_push") or {}).get("reason") == "drift":
                    assert m["targets"][0]["last_push"]["result"] == "ok", m
                    break
            harness.wait_for(lambda: dpsim.get_through(fe) == (200, "backend-a"), 30, what="the repair serves")
            assert ("drift", "found") in [(e["action"], e["result"]) for e in r.audit()]
    finally:
        a.close()
        b.close()


def test_dpapi_endpoint_change_on_the_slots_takes_the_runtime_api_then_more_endpoints_reload_once(tmp):
    fe = harness.free_port()
    a, b, c = Backend("backend-a"), Backend("backend-b"), Backend("backend-c")
    try:
        with dpsim.DataplaneSim(config=dpsim.bootstrap_config(fe)) as dp, DpRig(tmp, dp) as r:
            r.start_deployer()
            g1 = write_generation(r.run_dir, cfg_text(fe, [f"127.0.0.1:{a.port}", "127.0.0.1:1 disabled"]))
            r.lkg(1, g1)
            t = r.push_result(g1)
            assert t["last_push"]["result"] == "ok" and t["last_push"]["lane"] == "reload", t
            assert dpsim.get_through(fe) == (200, "backend-a")
            reloads, pids = dp.stats()["reloads"], dp.show_proc()

            # the endpoint moves and the second slot fills: runtime PUTs, no reload, the same worker
            g2 = write_generation(r.run_dir, cfg_text(fe, ["127.0.0.1:1 disabled", f"127.0.0.1:{b.port}"]))
            r.lkg(2, g2)
            t = r.push_result(g2)
            assert t["last_push"]["result"] == "ok" and t["last_push"]["lane"] == "fast", t
            assert t["last_push"]["runtime_commands"] == 2 and t["in_sync"] is True, t
            assert dpsim.get_through(fe) == (200, "backend-b")
            assert dp.stats()["reloads"] == reloads, "the fast lane reloaded"
            assert dp.show_proc() == pids, "the worker changed"
            puts = [e["endpoint"] for e in dp.audit_entries() if e.get("method") == "PUT"]
            assert puts == [dpsim.B + "/runtime/backends/be/servers/SRV_1",
                            dpsim.B + "/runtime/backends/be/servers/SRV_2"], puts
            # the stored config follows (a later reload keeps the state), under g2's header
            st, _, text = dp.request("GET", RAW)
            assert f"checksum={g2}" in text.decode() and f"127.0.0.1:{b.port}" in text.decode(), text
            while r.recv()["type"] != "metrics":  # sent right after the report
                pass
            assert metric(r.seen, "haproxy_ic_deploy_pushes_total", ["pod-a", "fast", "ok"]) == 1
            assert metric(r.seen, "haproxy_ic_deploy_runtime_commands_total", ["pod-a"]) == 2

            # more endpoints than slots: one reload, then traffic follows
            g3 = write_generation(r.run_dir, cfg_text(fe, [f"127.0.0.1:{c.port}", "127.0.0.1:1 disabled",
                                                            "127.0.0.1:1 disabled"]))
            r.lkg(3, g3)
            t = r.push_result(g3)
            assert t["last_push"]["result"] == "ok" and t["last_push"]["lane"] == "reload", t
            assert dp.stats()["reloads"] == reloads + 1
            assert dpsim.get_through(fe) == (200, "backend-c")
            assert_no_password(r, dp)
    finally:
        a.close()
        b.close()
        c.close()


def test_dpapi_a_sidecar_that_ignores_the_address_put_gets_the_reload_lane(tmp):
    fe = harness.free_port()
    a, b = Backend("backend-a"), Backend("backend-b")
    try:
        with dpsim.DataplaneSim(config=dpsim.bootstrap_config(fe)) as dp, DpRig(tmp, dp) as r:
            r.start_deployer()
            g1 = write_generation(r.run_dir, cfg_text(fe, [f"127.0.0.1:{a.port}"]))
            r.lkg(1, g1)
            assert r.push_result(g1)["last_push"]["result"] == "ok"
            dp.faults(runtime_server_state_only=True)  # a 3.2 sidecar: address and port are not acted on
            reloads = dp.stats()["reloads"]
            g2 = write_generation(r.run_dir, cfg_text(fe, [f"127.0.0.1:{b.port}"]))
            r.lkg(2, g2)
            t = r.push_result(g2)
            assert t["last_push"]["result"] == "ok" and t["last_push"]["lane"] == "reload", t
            assert dp.stats()["reloads"] == reloads + 1
            assert dpsim.get_through(fe) == (200, "backend-b")
            acts = [(e["action"], e["result"]) for e in r.audit() if e["checksum"] == g2]
            assert ("runtime", "failed") in acts, acts
    finally:
        a.close()
        b.close()


def host_map_cfg(fe, maps_dir, a, b):
    return map_cfg(fe, maps_dir, a, b, lookup="req.hdr(host),lower,map({maps_dir}/hosts.map,be_a)")


def test_dpapi_map_change_takes_the_runtime_entries_and_the_stored_map_follows(tmp):
    fe = harness.free_port()
    a, b = Backend("backend-a"), Backend("backend-b")
    try:
        with dpsim.DataplaneSim(config=dpsim.bootstrap_config(fe)) as dp, DpRig(tmp, dp) as r:
            maps_dir = os.path.join(dp.work, "maps")
            r.start_deployer()
            cfg = host_map_cfg(fe, maps_dir, a, b)
            g1 = write_generation(r.run_dir, cfg, {"hosts.map": "b.example be_b\nx.example be_b\n"})
            r.lkg(1, g1)
            assert r.push_result(g1)["last_push"]["result"] == "ok"
            assert dpsim.get_through(fe, host="b.example") == (200, "backend-b")
            reloads = dp.stats()["reloads"]
            # one value changed, one key added, one removed: three entry requests, no reload
            g2 = write_generation(r.run_dir, cfg, {"hosts.map": "b.example be_a\nc.example be_b\n"})
            r.lkg(2, g2)
            t = r.push_result(g2)
            assert t["last_push"]["result"] == "ok" and t["last_push"]["lane"] == "fast", t
            assert t["last_push"]["runtime_commands"] == 3, t
            assert dp.stats()["reloads"] == reloads, "the map change reloaded"
            assert dpsim.get_through(fe, host="b.example") == (200, "backend-a")
            assert dpsim.get_through(fe, host="c.example") == (200, "backend-b")
            assert dpsim.get_through(fe, host="x.example") == (200, "backend-a")
            with open(os.path.join(maps_dir, "hosts.map")) as f:
                assert f.read() == "b.example be_a\nc.example be_b\n", "the stored map did not follow"
            assert_no_password(r, dp)
    finally:
        a.close()
        b.close()


SECRETS = "/api/v1/namespaces/ing/secrets"


def put_secret(sim, name, user, password):
    data = {"dataplane_username": base64.b64encode(user.encode()).decode(),
            "dataplane_password": base64.b64encode(password.encode()).decode()}
    st, _, obj = sim.request("GET", f"{SECRETS}/{name}")
    if st == 404:
        st, _, obj = sim.request("POST", SECRETS, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                                   "metadata": {"name": name}, "data": data})
        assert st == 201, (st, obj)
        return
    obj["data"] = data
    st, _, got = sim.request("PUT", f"{SECRETS}/{name}", obj)
    assert st == 200, (st, got)


def test_dpapi_credentials_from_a_secret_follow_its_rotation(tmp):
    fe = harness.free_port()
    a, b = Backend("backend-a"), Backend("backend-b")
    pw1, pw2 = "rot1-" + os.urandom(6).hex(), "rot2-" + os.urandom(6).hex()
    try:
        with KubeSim(auto_namespaces=True) as ks, \
                dpsim.DataplaneSim(config=dpsim.bootstrap_config(fe), users=["ops:" + pw1]) as dp, \
                DpRig(tmp, dp, secret=("ing", "dp-creds"), kubeconfig=ks.kubeconfig) as r:
            put_secret(ks, "dp-creds", "ops", pw1)
            r.start_deployer()
            g1 = write_generation(r.run_dir, cfg_text(fe, [f"127.0.0.1:{a.port}"]))
            r.lkg(1, g1)
            t = r.push_result(g1)
            assert t["last_push"]["result"] == "ok", t
            assert dpsim.get_through(fe) == (200, "backend-a")

            # the sidecar's password is rotated, then the Secret: the next push is answered 401 once, the
            # deployer reads the Secret again and sends the same request with the new password
            dp.set_users(["ops:" + pw2])
            put_secret(ks, "dp-creds", "ops", pw2)
            g2 = write_generation(r.run_dir, cfg_text(fe, [f"127.0.0.1:{b.port}"]))
            r.lkg(2, g2)
            t = r.push_result(g2)
            assert t["last_push"]["result"] == "ok", t
            assert dpsim.get_through(fe) == (200, "backend-b")
            assert "msg=\"sending again with the credentials read after a 401\"" in r.log(), r.log()
            assert r.p.poll() is None, "the deployer restarted"
            assert_no_password(r, dp, (pw1, pw2))
    finally:
        a.close()
        b.close()


def test_dpapi_missing_secret_is_an_error_naming_it_then_its_creation_is_followed(tmp):
    fe = harness.free_port()
    a = Backend("backend-a")
    pw = "late-" + os.urandom(6).hex()
    try:
        with KubeSim(auto_namespaces=True) as ks, \
                dpsim.DataplaneSim(config=dpsim.bootstrap_config(fe), users=["ops:" + pw]) as dp, \
                DpRig(tmp, dp, secret=("ing", "dp-late"), kubeconfig=ks.kubeconfig) as r:
            r.start_deployer()
            g1 = write_generation(r.run_dir, cfg_text(fe, [f"127.0.0.1:{a.port}"]))
            r.lkg(1, g1)
            while True:  # the compare before the first push cannot authenticate: reported, naming the Secret
                m = r.recv()
                if m["type"] == "deploy_report" and m["targets"][0]["last_error"]:
                    break
            assert m["targets"][0]["last_error"] == "compare: credentials: Secret ing/dp-late not found", m
            assert 'error="Secret ing/dp-late not found"' in r.log()
            assert dp.stats()["writes"] == 0, "something was written without credentials"
            put_secret(ks, "dp-late", "ops", pw)
            while True:  # the retry (with backoff) reads the Secret again and pushes
                t = r.push_result(g1)
                if t["last_push"]["result"] == "ok":
                    break
            assert dpsim.get_through(fe) == (200, "backend-a")
            assert_no_password(r, dp, (pw,))
    finally:
        a.close()


if __name__ == "__main__":
    harness.run([
        test_dpapi_push_serves_then_same_lkg_is_skipped_then_refused_reload_keeps_serving,
        test_dpapi_version_conflict_is_retried,
        test_dpapi_maps_go_to_storage_before_the_config_and_obsolete_ones_are_deleted,
        test_dpapi_pods_from_the_targets_message_are_pushed_to_and_forgotten,
        test_dpapi_an_edit_behind_our_back_that_keeps_our_header_is_repaired,
        test_dpapi_credentials_from_a_secret_follow_its_rotation,
        test_dpapi_missing_secret_is_an_error_naming_it_then_its_creation_is_followed,
        test_dpapi_endpoint_change_on_the_slots_takes_the_runtime_api_then_more_endpoints_reload_once,
        test_dpapi_a_sidecar_that_ignores_the_address_put_gets_the_reload_lane,
        test_dpapi_map_change_takes_the_runtime_entries_and_the_stored_map_follows,
    ])
