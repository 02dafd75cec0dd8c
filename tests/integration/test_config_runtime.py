#!/usr/bin/env python3
"""Configuration at run time against the real binary: a template edited in a ConfigMap-style mount (an atomic
`..data` symlink swap) reaches a new LKG on a running leader without any child restarting and without a
leadership transition; a broken config (by file change or SIGHUP) is refused with its reasons in the log,
/debug/vars and a metric while the LKG stays; a watched_resources change takes effect (the reconciler and
renderer restart to take it); a reload of the same bytes is "unchanged"."""
import json
import os
import signal
import sys

import harness as h

sys.path.insert(0, os.path.join(h.SOURCE_ROOT, "tests", "kube-sim"))
from kubesim import KubeSim  # noqa: E402

FAST = "    lease_namespace: default\n    lease_duration: 3s\n    renew_deadline: 2s\n    retry_period: 500ms\n"
WORKERS = ["discovery", "reconciler", "renderer", "validator", "executor"]


def get(port, path):
    return h.http_get(port, path)


def debug_vars(port):
    status, body = get(port, "/debug/vars")
    return json.loads(body) if status == 200 else None


def lkg(port):
    v = debug_vars(port)
    return v["pipeline"]["lkg"] if v and v.get("pipeline") and v["pipeline"].get("lkg") else None


def lkg_text(tmp, checksum):
    with open(os.path.join(tmp, "run", "gen", checksum.split(":", 1)[1], "haproxy.cfg")) as f:
        return f.read()


def reloads(port, result):
    for line in get(port, "/metrics")[1].splitlines():
        if line.startswith(f'haproxy_ic_config_reloads_total{{result="{result}"}}'):
            return float(line.split()[-1])
    raise AssertionError(f"no haproxy_ic_config_reloads_total for {result}")


class ConfigMapMount:
    """A directory laid out like a mounted ConfigMap: config.yaml -> ..data/config.yaml, ..data -> ..vN. An
    update writes ..vN+1 and renames a new ..data symlink over the old one, as the kubelet does."""

    def __init__(self, tmp, text):
        self.dir = os.path.join(tmp, "cm")
        os.makedirs(self.dir)
        self.n = 0
        self.update(text)
        os.symlink("..data/config.yaml", os.path.join(self.dir, "config.yaml"))
        self.path = os.path.join(self.dir, "config.yaml")

    def update(self, text):
        self.n += 1
        version = os.path.join(self.dir, f"..v{self.n}")
        os.makedirs(version)
        h.write(os.path.join(version, "config.yaml"), text)
        tmp_link = os.path.join(self.dir, "..data_tmp")
        os.symlink(f"..v{self.n}", tmp_link)
        os.rename(tmp_link, os.path.join(self.dir, "..data"))


def worker_pids(p):
    kids = p.children()
    return {r: kids[r] for r in WORKERS + ["elector", "deployer"] if r in kids}


def test_template_edit_reaches_the_lkg_without_restarts_or_leader_change(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        port = h.free_port()
        text = h.open_text(h.config(tmp, election=True, http_port=port, kubeconfig=sim.kubeconfig,
                                    leader_election_extra=FAST + "    identity: pod-0\n"))
        mount = ConfigMapMount(tmp, text)
        with h.Proc([h.HTIC_BIN, "run", "--config", mount.path], tmp, name="supervisor") as p:
            h.wait_for(lambda: get(port, "/readyz")[0] == 200, timeout=60, what="ready")
            h.wait_for(lambda: (debug_vars(port) or {}).get("leader_election", {}).get("is_leader"), timeout=30,
                       what="leader")
            before = debug_vars(port)
            first = before["pipeline"]["lkg"]["checksum"]
            pids = worker_pids(p)
            assert set(WORKERS + ["elector", "deployer"]) <= set(pids), pids

            mount.update(text.replace("maxconn 100", "maxconn 100\n      # edited-at-run-time"))
            new = h.wait_for(lambda: (lambda l: l if l and l["checksum"] != first else None)(lkg(port)),
                             timeout=60, what="a new LKG from the edited template")
            assert "# edited-at-run-time" in lkg_text(tmp, new["checksum"])
            after = debug_vars(port)
            assert worker_pids(p) == pids, (pids, worker_pids(p))
            assert after["restarts_total"] == 0, after["children"]
            le_before, le_after = before["leader_election"], after["leader_election"]
            assert le_after["is_leader"] and le_after["term"] == le_before["term"], (le_before, le_after)
            assert le_after["transitions"] == le_before["transitions"]
            cfg = after["config"]
            assert cfg["checksum"] != before["config"]["checksum"] and cfg["last_refused"] is None, cfg
            h.wait_for(lambda: set(debug_vars(port)["config"]["applied"].values()) == {cfg["checksum"]},
                       what="every pipeline role applied the new config")
            assert reloads(port, "applied") == 1
            snap = os.path.join(tmp, "run", "config", cfg["checksum"].split(":", 1)[1] + ".yaml")
            assert os.stat(snap).st_mode & 0o777 == 0o600
            assert "config reloaded" in p.text() and "trigger=\"file changed\"" in p.text()


def test_bad_config_is_refused_and_the_lkg_stays(tmp):
    port = h.free_port()
    path = h.config(tmp, http_port=port)
    text = h.open_text(path)
    with h.Proc([h.HTIC_BIN, "run", "--config", path], tmp, name="supervisor") as p:
        h.wait_for(lambda: get(port, "/readyz")[0] == 200, timeout=60, what="ready")
        first = lkg(port)
        checksum = debug_vars(port)["config"]["checksum"]

        # a template that does not compile, written in place (not a rename): the stat poll sees it
        with open(path, "w") as f:
            f.write(text.replace("maxconn 100", "maxconn 100\n      {% for x in %}"))
        refused = h.wait_for(lambda: debug_vars(port)["config"]["last_refused"], timeout=30, what="refused")
        assert refused["trigger"] == "file changed" and refused["at"].endswith("Z"), refused
        assert any("haproxy_config" in pr and "line" in pr for pr in refused["problems"]), refused
        assert reloads(port, "refused") == 1
        assert "config reload refused, the running config stays" in p.text()
        v = debug_vars(port)
        assert v["config"]["checksum"] == checksum and lkg(port) == first, v["config"]
        assert get(port, "/readyz")[0] == 200

        # a setting fixed at start, by SIGHUP this time: refused with the key and the reason
        h.write(path, text.replace(f"port: {port}", f"port: {h.free_port()}"))
        os.kill(p.pid, signal.SIGHUP)
        h.wait_for(lambda: reloads(port, "refused") == 2, timeout=30, what="second refusal")
        problems = debug_vars(port)["config"]["last_refused"]["problems"]
        assert any("controller.http" in pr and "cannot change while running" in pr for pr in problems), problems

        # the original bytes again: nothing to apply
        h.write(path, text)
        os.kill(p.pid, signal.SIGHUP)
        h.wait_for(lambda: reloads(port, "unchanged") >= 1, timeout=30, what="unchanged")
        assert reloads(port, "applied") == 0 and lkg(port) == first
        assert debug_vars(port)["restarts_total"] == 0


WATCH_INGRESSES = """watched_resources:
  ingresses:
    api_version: networking.k8s.io/v1
    resources: ingresses
    index_by: [metadata.namespace, metadata.name]
"""
WATCH_SERVICES = """  services:
    api_version: v1
    resources: services
    index_by: [metadata.namespace, metadata.name]
"""
TEMPLATE = """haproxy_config:
  template: |
    global
      maxconn 100
    defaults
      timeout connect 1s
      timeout client 1s
      timeout server 1s
    frontend fe
      bind 127.0.0.1:{port}
    {{% for i in resources.ingresses.List() %}}
      # ingress {{{{ haproxy_arg(i.metadata.name) }}}}
    {{% endfor %}}
"""
SERVICES_PART = """    {% for s in resources.services.List() %}
      # service {{ haproxy_arg(s.metadata.name) }}
    {% endfor %}
"""


def test_watched_resources_change_takes_effect(tmp):
    with KubeSim(auto_namespaces=True) as sim:
        code, _, body = sim.request("POST", "/api/v1/namespaces/shop/services",
                                    {"apiVersion": "v1", "kind": "Service",
                                     "metadata": {"name": "billing", "namespace": "shop"}, "spec": {}})
        assert code == 201, (code, body)
        port = h.free_port()
        template = TEMPLATE.format(port=h.free_port())
        path = h.config(tmp, http_port=port, kubeconfig=sim.kubeconfig, pipeline=WATCH_INGRESSES + template)
        text = h.open_text(path)
        with h.Proc([h.HTIC_BIN, "run", "--config", path], tmp, name="supervisor") as p:
            h.wait_for(lambda: get(port, "/readyz")[0] == 200, timeout=60, what="ready")
            first = lkg(port)["checksum"]
            assert "# service" not in lkg_text(tmp, first)
            pids = worker_pids(p)

            h.write(path + ".new", text.replace(WATCH_INGRESSES, WATCH_INGRESSES + WATCH_SERVICES)
                    .replace(template, template + SERVICES_PART))
            os.rename(path + ".new", path)
            new = h.wait_for(lambda: (lambda l: l if l and "# service billing" in lkg_text(tmp, l["checksum"])
                                      else None)(lkg(port)), timeout=60, what="the service in the LKG")
            assert new["checksum"] != first
            now = worker_pids(p)
            # the roles built on watched_resources restarted to take it; the others applied it in place
            assert now["reconciler"] != pids["reconciler"] and now["renderer"] != pids["renderer"], (pids, now)
            for r in ("discovery", "validator", "executor", "deployer"):
                assert now[r] == pids[r], (r, pids, now)
            assert debug_vars(port)["restarts_total"] == 0  # planned restarts are not crashes
            assert debug_vars(port)["pipeline"]["objects"].get("services") == 1
            assert get(port, "/readyz")[0] == 200


if __name__ == "__main__":
    h.run([
        test_template_edit_reaches_the_lkg_without_restarts_or_leader_change,
        test_bad_config_is_refused_and_the_lkg_stays,
        test_watched_resources_change_takes_effect,
    ])
