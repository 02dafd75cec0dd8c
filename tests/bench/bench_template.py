#!/usr/bin/python3
"""Template benchmark: renders a generated HAProxy config for N Ingresses with their EndpointSlices
(indexed Fetch by service name, about 4 lines per Ingress) with our engine (bench_template, C) and with
Jinja2 (same template, same data, the same store interface in Python), each in its own process so peak
memory is per engine. Checks that both outputs are byte-identical, then prints a table.
Then end to end: `haproxy-template-ic render --template F --context DATA.json` (the context loaded with the
packed text builder; also with --context-loader json-c) against /usr/bin/python3 doing json.load + Jinja2
on the same template (which builds its own index), each a fresh process; CPU time and peak RSS of the child
from wait4(), outputs compared byte for byte.
Usage: bench_template.py BENCH_BINARY [N ...] [--cli HTIC_BINARY]   (default N: 1000 10000)"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import result  # tests/bench/result.py: the RESULT lines run_all.py reads

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


# The same config written the way the chart libraries do it: macros imported from a library and a snippet
# included per Ingress.
MACRO_FILES = {
    "haproxy.cfg.j2": """\
{% from 'lib.j2' import backend_name, server_line %}
{% for ing in resources.ingresses.List() %}
{% set svc = ing.spec.rules[0].http.paths[0].backend.service %}
backend {{ backend_name(ing.metadata.namespace, ing.metadata.name) }}
{% include 'backend-directives.j2' %}
{% for slice in resources.endpoints.Fetch(svc.name) %}
{% for ep in slice.endpoints | default([]) if ep.conditions.ready %}
  {{ server_line(loop.index, ep.addresses[0], svc.port.number) }}
{% endfor %}
{% endfor %}
{% endfor %}
""",
    "lib.j2": """\
{% macro backend_name(ns, name) -%}
be_{{ ns }}_{{ name | replace('.', '_') }}
{%- endmacro %}
{% macro server_line(i, addr, port, check=true) -%}
server SRV_{{ i }} {{ addr }}:{{ port }}{{ ' check' if check }}
{%- endmacro %}
""",
    "backend-directives.j2": "  balance {{ ing.metadata.annotations.get('haproxy.org/balance', 'roundrobin') | lower }}\n",
}


# The same config from a plain context (what `render --context` gets): the template indexes the slices itself.
CLI_TEMPLATE = """\
{% set idx = {} %}
{% for s in endpointslices %}
{% set _ = idx.setdefault(s.metadata.labels['kubernetes.io/service-name'], []).append(s) %}
{% endfor %}
""" + TEMPLATE.replace("resources.ingresses.List()", "ingresses").replace(
    "resources.endpoints.Fetch(svc.name)", "idx.get(svc.name, [])")

JINJA_CLI = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import jinja2, jinja_oracle
env = jinja_oracle.make_env(jinja2.FileSystemLoader(sys.argv[2]))
data = json.load(open(sys.argv[4]))
sys.stdout.write(env.get_template(sys.argv[3]).render(**data))
"""


def run_child(args, out_path):
    """Runs one process with stdout to out_path; returns (CPU seconds user+sys, wall seconds, peak RSS KiB)."""
    with open(out_path, "wb") as out:
        t0 = time.monotonic()
        p = subprocess.Popen(args, stdout=out)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
    if status != 0:
        raise SystemExit("%s failed with status %d" % (args[0], status))
    return ru.ru_utime + ru.ru_stime, wall, ru.ru_maxrss


def run_cli(htic, oracle_dir, top, n, shape, runs=3):
    data = os.path.join(top, "data-%s-%d.json" % (shape, n))
    if not os.path.exists(data):
        subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--generate" + shape, str(n), data], check=True)
    d = os.path.join(top, "cli")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "haproxy.cfg.j2"), "w") as f:
        f.write(CLI_TEMPLATE)
    tpl = os.path.join(d, "haproxy.cfg.j2")
    engines = (
        ("ours, packed context", [htic, "render", "--template", tpl, "--context", data]),
        ("ours, json-c context", [htic, "render", "--template", tpl, "--context", data, "--context-loader", "json-c"]),
        ("python3 json.load + Jinja2", ["/usr/bin/python3", "-c", JINJA_CLI, oracle_dir, d, "haproxy.cfg.j2", data]),
    )
    rows, outputs = [], []
    for name, args in engines:
        out = os.path.join(d, "out-%d-%d" % (n, len(rows)))
        results = [run_child(args, out) for _ in range(runs)]
        rows.append((name, min(r[0] for r in results), min(r[1] for r in results), max(r[2] for r in results)))
        outputs.append(open(out, "rb").read())
    same = all(o == outputs[0] for o in outputs)
    return os.path.getsize(data), len(outputs[0]), rows, same


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


def generate_served(n):
    """The same objects with the fields the API server serves (uid, resourceVersion, timestamps, labels,
    status; slices with ports, targetRef, nodeName, zone, all three conditions) after the store's projection
    (no managedFields, no last-applied annotation): the size a real 10k-Ingress context has (about 18 MB).
    The templates read the same fields, so the output is the same as generate()'s."""
    data = generate(n)
    for i, (ing, sl) in enumerate(zip(data["ingresses"], data["endpointslices"])):
        md = ing["metadata"]
        md.update({"uid": "6f1c%04x-1d2e-4b5a-9c8d-%012x" % (i % 65536, i), "resourceVersion": str(1000000 + i),
                   "generation": 1, "creationTimestamp": "2026-01-%02dT10:%02d:%02dZ" % (i % 28 + 1, i % 60, i % 59),
                   "labels": {"app.kubernetes.io/name": md["name"], "app.kubernetes.io/part-of": "team%d" % (i % 20)}})
        ing["spec"]["ingressClassName"] = "haproxy"
        ing["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.%d" % (i % 250 + 1)}]}}
        smd = sl["metadata"]
        svc = smd["labels"]["kubernetes.io/service-name"]
        smd.update({"generateName": svc + "-", "uid": "9a2b%04x-3c4d-4e5f-8a9b-%012x" % (i % 65536, i),
                    "resourceVersion": str(2000000 + i), "generation": 3,
                    "creationTimestamp": "2026-01-%02dT11:%02d:%02dZ" % (i % 28 + 1, i % 60, i % 59),
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": svc, "uid": "c0ffee%02x-0000-4000-8000-%012x" % (i % 256, i),
                                         "controller": True, "blockOwnerDeletion": True}]})
        smd["labels"]["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io"
        sl.update({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                   "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
        for k, ep in enumerate(sl["endpoints"]):
            ready = ep["conditions"]["ready"]
            ep["conditions"].update({"serving": ready, "terminating": False})
            ep.update({"nodeName": "node-%d" % ((i + k) % 100), "zone": "zone-%s" % "abc"[(i + k) % 3],
                       "targetRef": {"kind": "Pod", "namespace": smd["namespace"], "name": "%s-7d9f8c-%05d" % (svc, k),
                                     "uid": "ab12%04x-5e6f-4a7b-8c9d-%012x" % (k, i)}})
    return data


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


def run_size(binary, oracle_dir, top, d, scenario, n):
    data = os.path.join(top, "data-%d.json" % n)
    if not os.path.exists(data):  # in a child, so this process stays small (children inherit its peak RSS)
        subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--generate", str(n), data], check=True)
    runs = "5"
    ours_out, jinja_out = os.path.join(d, "ours-%d" % n), os.path.join(d, "jinja-%d" % n)
    ours = json.loads(subprocess.run([binary, d, "haproxy.cfg.j2", data, runs, ours_out], check=True,
                                     stdout=subprocess.PIPE).stdout)
    ours_json = json.loads(subprocess.run([binary, d, "haproxy.cfg.j2", data, runs, ours_out + "j", "--json"],
                                          check=True, stdout=subprocess.PIPE).stdout)
    jin = json.loads(subprocess.run(["/usr/bin/python3", "-c", JINJA_SIDE, oracle_dir, d, data, runs, jinja_out],
                                    check=True, stdout=subprocess.PIPE).stdout)
    same = open(ours_out, "rb").read() == open(jinja_out, "rb").read() == open(ours_out + "j", "rb").read()
    return ("%s %d" % (scenario, n), ours, ours_json, jin, same)


def main():
    if len(sys.argv) == 4 and sys.argv[1] in ("--generate", "--generate-served"):
        with open(sys.argv[3], "w") as f:
            json.dump((generate_served if sys.argv[1] == "--generate-served" else generate)(int(sys.argv[2])), f)
        return 0
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    args = sys.argv[2:]
    htic = None
    if "--cli" in args:
        htic = args[args.index("--cli") + 1]
        del args[args.index("--cli"):args.index("--cli") + 2]
    sizes = [int(x) for x in args] or [1000, 10000]
    here = os.path.dirname(os.path.abspath(__file__))
    oracle_dir = os.path.join(here, "..", "template")
    rows = []
    scenarios = (("plain", {"haproxy.cfg.j2": TEMPLATE}), ("macros+include", MACRO_FILES))
    with tempfile.TemporaryDirectory(prefix="tmpl-bench-") as top:
        for scenario, files in scenarios:
            d = os.path.join(top, scenario.replace("+", "_"))
            os.makedirs(d)
            for name, text in files.items():
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
            for n in sizes:
                rows.append(run_size(binary, oracle_dir, top, d, scenario, n))
    print("| template, Ingresses | output | engine | render CPU best | render CPU median | peak RSS | RSS over data | identical |")
    print("|---|---|---|---|---|---|---|---|")
    for n, ours, ours_json, jin, same in rows:
        for name, r in (("ours, packed", ours), ("ours, json-c objects", ours_json), ("Jinja2 3.1", jin)):
            print("| %s | %.1f MB | %s | %.1f ms | %.1f ms | %.1f MB | %.1f MB | %s |" % (
                n, r["output_bytes"] / 1e6, name, r["best_s"] * 1e3, r["median_s"] * 1e3, r["rss_peak_kb"] / 1024,
                (r["rss_peak_kb"] - r["rss_loaded_kb"]) / 1024, "yes" if same else "NO"))
        print("| %s | | speed-up (packed) | %.1fx | %.1fx | | | |" % (n, jin["best_s"] / ours["best_s"], jin["median_s"] / ours["median_s"]))
        result.emit("render only against Jinja2, %s Ingresses, speed-up" % n, round(jin["median_s"] / ours["median_s"], 1),
                    "x", better="higher")
    print()
    for n, ours, ours_json, jin, same in rows:
        print("%s Ingresses: data file -> packed block %.1f ms CPU, %.1f MB; template compile %.2f ms (ours), %.2f ms (Jinja2)" % (
            n, ours["load_s"] * 1e3, ours["data_bytes"] / 1e6, ours["compile_s"] * 1e3, jin["compile_s"] * 1e3))
    ok = all(r[4] for r in rows)
    if htic:
        print()
        print("| end to end, Ingresses | context | output | process | CPU best | wall best | peak RSS | RSS / context | identical |")
        print("|---|---|---|---|---|---|---|---|---|")
        with tempfile.TemporaryDirectory(prefix="tmpl-bench-cli-") as top:
            for n in sizes:
                for shape in ("", "-served"):
                    size, outlen, cli_rows, same = run_cli(htic, oracle_dir, top, n, shape)
                    py = cli_rows[-1]
                    label = "%d%s" % (n, shape.replace("-", " "))
                    for name, cpu, wall, rss in cli_rows:
                        print("| %s | %.1f MB | %.1f MB | %s | %.0f ms | %.0f ms | %.1f MB | %.2fx | %s |" % (
                            label, size / 1e6, outlen / 1e6, name, cpu * 1e3, wall * 1e3, rss / 1024, rss * 1024 / size,
                            "yes" if same else "NO"))
                    print("| %s | | | speed-up (packed) | %.1fx | %.1fx | | | |" % (
                        label, py[1] / cli_rows[0][1], py[2] / cli_rows[0][2]))
                    # the issue's targets are for the real-sized context (10k Ingresses as the API serves them);
                    # on the minimal one the process's own 9 MB dominate the ratio
                    real = shape == "-served" and n == 10000
                    result.emit("render CLI end to end against json.load + Jinja2, %s Ingresses, speed-up" % label,
                                round(py[2] / cli_rows[0][2], 1), "x", target=5 if real else None, better="higher")
                    result.emit("render CLI peak RSS over context size, %s Ingresses" % label,
                                round(cli_rows[0][3] * 1024 / size, 2), "x", target=3 if real else None)
                    ok = ok and same
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
