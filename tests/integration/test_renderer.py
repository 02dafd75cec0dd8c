"""The renderer role on its own: the real binary started as `--role renderer` on a socketpair this test
holds (as the supervisor would), fed `deltas`, `synced`, `targets`, `render_request` and `lkg` frames as the
reconciler, discovery and executor send them; its generation dir in the run directory follows."""
import os
import signal

import harness
from role_child import RoleChild

CONFIG = """
controller:
  leader_election:
    enabled: false
  run_dir: {run_dir}
haproxy:
  endpoints:
    - name: local
      master_socket: {tmp}/haproxy-master.sock
watched_resources:
  ingresses:
    api_version: networking.k8s.io/v1
    resources: ingresses
    index_by: [metadata.namespace, metadata.name]
  endpoints:
    api_version: discovery.k8s.io/v1
    resources: endpointslices
    index_by: ["metadata.labels.kubernetes\\\\.io/service-name"]
maps:
  host.map:
    template: |
      {%- for i in resources.ingresses.List() %}
      {{ haproxy_arg(i.spec.rules[0].host) }} be_{{ i.metadata.namespace }}_{{ i.metadata.name }}
      {%- endfor %}
haproxy_config:
  template: |
    global
    {%- for p in controller.haproxy_pods.List() %}
    # pod {{ p.name }}
    {%- endfor %}
    frontend fe
      use_backend %[req.hdr(host),map({{ pathResolver.GetPath("host.map", "map") }})]
    {%- for i in resources.ingresses.List() %}
    backend be_{{ i.metadata.namespace }}_{{ i.metadata.name }}
      {%- set svc = i.spec.rules[0].http.paths[0].backend.service.name %}
      {%- for s in resources.endpoints.Fetch(svc) %}{% for ep in s.endpoints %}
      server {{ haproxy_arg(ep.addresses[0]) }} {{ ep.addresses[0] }}:80
      {%- endfor %}{% endfor %}
    {%- endfor %}
"""


def ingress(ns, name, host, svc):
    return {"metadata": {"namespace": ns, "name": name, "resourceVersion": "1"},
            "spec": {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                                "backend": {"service": {"name": svc}}}]}}]}}


def slice_(ns, name, svc, *ips):
    return {"metadata": {"namespace": ns, "name": name, "labels": {"kubernetes.io/service-name": svc}},
            "endpoints": [{"addresses": [ip]} for ip in ips]}


def up(obj):
    md = obj["metadata"]
    return {"op": "upsert", "key": f"{md['namespace']}/{md['name']}", "rv": "1", "object": obj}


def delete(ns, name):
    return {"op": "delete", "key": f"{ns}/{name}", "rv": "2"}


class Renderer(RoleChild):
    """The renderer on a socketpair (role_child.py), with CONFIG and a run directory in tmp."""

    def __init__(self, tmp):
        self.run_dir = os.path.join(tmp, "run")
        config = harness.write(os.path.join(tmp, "config.yaml"),
                               CONFIG.replace("{run_dir}", self.run_dir).replace("{tmp}", tmp))
        super().__init__("renderer", config, tmp)
        self.seq = 0

    def deltas(self, resource, items, synced=True):
        self.seq += 1
        self.send({"type": "deltas", "resource": resource, "seq": self.seq, "synced": synced, "items": items})

    def files(self, m):
        with open(os.path.join(m["dir"], "haproxy.cfg")) as f:
            cfg = f.read()
        with open(os.path.join(m["dir"], "maps", "host.map")) as f:
            hosts = f.read()
        return cfg, hosts


def test_renderer_follows_deltas_into_generations(tmp):
    with Renderer(tmp) as r:
        r.next("resync")   # a started renderer asks for every object
        r.deltas("ingresses", [up(ingress("shop", "web", "shop.example", "web"))], synced=False)
        r.send({"type": "synced", "resource": "ingresses"})
        r.deltas("endpoints", [up(slice_("shop", "web-1", "web", "10.0.0.2", "10.0.0.1"))], synced=False)
        r.send({"type": "targets", "targets": [{"name": "hap-0", "namespace": "ing", "pod": "hap-0",
                                                "address": "10.9.0.1", "port": 5555, "kind": "pod"}]})
        r.send({"type": "synced", "resource": "endpoints"})
        m = r.next("rendered")   # nothing before every resource synced
        assert m["trial"] is False and m["synced"] is True, m
        assert m["objects"] == {"ingresses": 1, "endpoints": 1}, m
        assert m["dir"] == os.path.join(r.run_dir, "gen", m["checksum"][len("sha256:"):]), m
        cfg, hosts = r.files(m)
        assert "# pod hap-0" in cfg and "server 10.0.0.2 10.0.0.2:80" in cfg, cfg
        assert hosts == "shop.example be_shop_web\n", hosts
        assert {"resource": "ingresses", "namespace": "shop", "name": "web"} in m["changed"], m
        first = m

        r.deltas("ingresses", [up(ingress("blog", "web", "blog.example", "blog"))])
        m2 = r.next("rendered")
        assert m2["changed"] == [{"resource": "ingresses", "namespace": "blog", "name": "web"}], m2
        assert "be_blog_web" in r.files(m2)[0] and m2["checksum"] != first["checksum"]

        r.deltas("ingresses", [delete("blog", "web")])
        m3 = r.next("rendered")
        assert m3["checksum"] == first["checksum"], "same objects, same bytes"

        # an injection attempt fails the render and names the object
        r.deltas("ingresses", [up(ingress("shop", "evil", "x.example\nbackend pwned", "web"))])
        f = r.next("render_failed")
        assert f["template"] == "host.map" and f["line"] > 0 and "contains a newline" in f["message"], f
        assert f["object"] == [{"resource": "ingresses", "namespace": "shop", "name": "evil"}], f

        # the executor's LKG is the first candidate; a trial holds the bad object back (it is new: absent)
        r.send({"type": "lkg", "generation": 1, "checksum": first["checksum"], "dir": first["dir"], "at": "x"})
        bad = [{"resource": "ingresses", "namespace": "shop", "name": "evil"}]
        r.send({"type": "render_request", "render_id": "77", "trial": True, "exclude": bad})
        t = r.next_any(("rendered", "render_failed"))
        assert t["type"] == "rendered" and t["trial"] is True and t["render_id"] == "77", t
        assert t["checksum"] == first["checksum"] and t["excluded"] == bad, t
        # quarantine: every candidate from now on holds it back
        r.send({"type": "render_request", "render_id": "78", "trial": False, "exclude": bad})
        q = r.next_any(("rendered", "render_failed"))
        assert q["type"] == "rendered" and q["excluded"] == bad and q["checksum"] == first["checksum"], q
        # fixing the object releases it
        r.deltas("ingresses", [up(ingress("shop", "evil", "fixed.example", "web"))])
        ok = r.next_any(("rendered", "render_failed"))
        assert ok["type"] == "rendered" and ok["excluded"] == [], ok
        assert "fixed.example be_shop_evil" in r.files(ok)[1]

        assert r.shutdown() == 0


def test_renderer_template_error_reports_line(tmp):
    with Renderer(tmp) as r:
        r.next("resync")
        r.deltas("ingresses", [up({"metadata": {"namespace": "shop", "name": "norules"}, "spec": {}})], synced=False)
        r.send({"type": "synced", "resource": "ingresses"})
        r.send({"type": "synced", "resource": "endpoints"})
        f = r.next("render_failed")
        assert f["template"] == "haproxy.cfg" and f["line"] == 9 and f["column"] > 0, f
        assert "has no attribute 'rules'" in f["message"], f
        assert f["changed"] == [{"resource": "ingresses", "namespace": "shop", "name": "norules"}], f


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    harness.run([
        test_renderer_follows_deltas_into_generations,
        test_renderer_template_error_reports_line,
    ])
