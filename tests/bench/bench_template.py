#!/usr/bin/python3
"""Template benchmark: renders a generated HAProxy config for N Ingresses with their EndpointSlices
(indexed Fetch by service name, about 4 lines per Ingress) with our engine (bench_template, C) and with
Jinja2 (same template, same data, the same store interface in Python), each in its own process so peak
memory is per engine. Checks that both outputs are byte-identical, then prints a table.
Usage: bench_template.py BENCH_BINARY [N ...]   (default N: 1000 10000)"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

TEMPLATE = """\
global
  log stdout local0 info
defaults
  mode http
  timeout connect 5s
frontend http
  bind *:8080
  use_backend %[req.hdr(host),field(1,:),lower,map(/etc/haproxy/maps/host.map)]
{% for ing in resources.ingresses.List() %}
{% set svc = ing.spec.rules[0].http.paths[0].backend.service %}
backend be_{{ ing.metadata.namespace }}_{{ ing.metadata.name }}
  balance {{ ing.metadata.annotations.get('haproxy.org/balance', 'roundrobin') }}
{% for slice in resources.endpoints.Fetch(svc.name) %}
{% for ep in slice.endpoints | default([]) if ep.conditions.ready %}
  server SRV_{{ loop.index }} {{ ep.addresses[0] }}:{{ svc.port.number }} check
{% endfor %}
{% endfor %}
{% endfor %}
"""


def generate(n):
    ings, slices = [], []
    for i in range(n):
        ns, name = "ns%d" % (i % 50), "app%d" % i
        svc = "svc%d" % i
        ings.append({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"namespace": ns, "name": name, "annotations": {"haproxy.org/balance": "leastconn"} if i % 3 == 0 else {}},
            "spec": {"rules": [{"host": "%s.example.com" % name, "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": svc, "port": {"number": 8080}}}}]}}]},
        })
        slices.append({
            "metadata": {"namespace": ns, "name": svc + "-abc", "labels": {"kubernetes.io/service-name": svc}},
            "endpoints": [{"addresses": ["10.%d.%d.%d" % (i // 65536 % 256, i // 256 % 256, i % 256)], "conditions": {"ready": True}},
                          {"addresses": ["10.200.%d.%d" % (i // 256 % 256, i % 256)], "conditions": {"ready": i % 7 != 0}}],
        })
    return {"ingresses": ings, "endpointslices": slices}


JINJA_SIDE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import jinja2, jinja_oracle
data = json.load(open(sys.argv[3]))
class Store:
    def __init__(self, items, index=None):
        self.items, self.index = items, index
    def List(self):
        return self.items
    def Fetch(self, key):
        return self.index.get(key, [])
index = {}
for s in data["endpointslices"]:
    index.setdefault(s["metadata"]["labels"]["kubernetes.io/service-name"], []).append(s)
resources = {"ingresses": Store(data["ingresses"]), "endpoints": Store(data["endpointslices"], index)}
rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
env = jinja_oracle.make_env(jinja2.FileSystemLoader(sys.argv[2]))
t0 = time.process_time(); t = env.get_template("haproxy.cfg.j2"); compile_s = time.process_time() - t0
times = []
for _ in range(int(sys.argv[4])):
    t0 = time.process_time(); out = t.render(resources=resources); times.append(time.process_time() - t0)
open(sys.argv[5], "w").write(out)
times.sort()
print(json.dumps({"best_s": times[0], "median_s": times[len(times) // 2], "compile_s": compile_s,
                  "output_bytes": len(out.encode()), "rss_loaded_kb": rss_loaded,
                  "rss_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    sizes = [int(x) for x in sys.argv[2:]] or [1000, 10000]
    here = os.path.dirname(os.path.abspath(__file__))
    oracle_dir = os.path.join(here, "..", "template")
    rows = []
    with tempfile.TemporaryDirectory(prefix="tmpl-bench-") as d:
        with open(os.path.join(d, "haproxy.cfg.j2"), "w") as f:
            f.write(TEMPLATE)
        for n in sizes:
            data = os.path.join(d, "data-%d.json" % n)
            with open(data, "w") as f:
                json.dump(generate(n), f)
            runs = "5"
            ours_out, jinja_out = os.path.join(d, "ours-%d" % n), os.path.join(d, "jinja-%d" % n)
            ours = json.loads(subprocess.run([binary, d, "haproxy.cfg.j2", data, runs, ours_out], check=True,
                                             stdout=subprocess.PIPE).stdout)
            ours_json = json.loads(subprocess.run([binary, d, "haproxy.cfg.j2", data, runs, ours_out + "j", "--json"],
                                                  check=True, stdout=subprocess.PIPE).stdout)
            jin = json.loads(subprocess.run(["/usr/bin/python3", "-c", JINJA_SIDE, oracle_dir, d, data, runs, jinja_out],
                                            check=True, stdout=subprocess.PIPE).stdout)
            same = open(ours_out, "rb").read() == open(jinja_out, "rb").read() == open(ours_out + "j", "rb").read()
            rows.append((n, ours, ours_json, jin, same))
    print("| Ingresses | output | engine | render CPU best | render CPU median | peak RSS | RSS over data | identical |")
    print("|---|---|---|---|---|---|---|---|")
    for n, ours, ours_json, jin, same in rows:
        for name, r in (("ours, tmpl_data", ours), ("ours, json-c objects", ours_json), ("Jinja2 3.1", jin)):
            print("| %d | %.1f MB | %s | %.1f ms | %.1f ms | %.1f MB | %.1f MB | %s |" % (
                n, r["output_bytes"] / 1e6, name, r["best_s"] * 1e3, r["median_s"] * 1e3, r["rss_peak_kb"] / 1024,
                (r["rss_peak_kb"] - r["rss_loaded_kb"]) / 1024, "yes" if same else "NO"))
        print("| %d | | speed-up (tmpl_data) | %.1fx | %.1fx | | | |" % (n, jin["best_s"] / ours["best_s"], jin["median_s"] / ours["median_s"]))
    print()
    for n, ours, ours_json, jin, same in rows:
        print("%d Ingresses: JSON -> tmpl_data conversion %.1f ms CPU, %.1f MB; template compile %.2f ms (ours), %.2f ms (Jinja2)" % (
            n, ours["convert_s"] * 1e3, ours["data_bytes"] / 1e6, ours["compile_s"] * 1e3, jin["compile_s"] * 1e3))
    return 0 if all(r[4] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
