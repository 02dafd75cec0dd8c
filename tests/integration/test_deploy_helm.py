#!/usr/bin/python3
"""The Helm chart (deploy/helm/haproxy-template-ic), checked without helm (no helm binary is available to
the project): a small renderer below implements exactly the subset of Go templates the chart uses and
refuses anything else, so the chart's templates must stay inside it. With the default values the rendered
chart must equal `kubectl kustomize deploy/kubernetes` object by object (labels, ConfigMap name suffixes and
the checksum annotation aside), so the RBAC, probe and env checks of test_deploy_kubernetes.py hold for the
chart too. Every value is documented by a comment and used by a template; the optional objects appear when
enabled; the PrometheusRule carries the alert rules file unchanged.

The subset: {{ .Values.a.b }}, {{ .Release.Name }}, {{ .Release.Namespace }}, {{ .Chart.Name }},
{{ .Chart.Version }}, {{ .Chart.AppVersion }}, {{ .Files.Get "path" }}, functions toYaml, quote, sha256sum,
nindent N, indent N in pipelines (`toYaml .Values.x | nindent 4`), {{ if X }} / {{ else }} / {{ end }}, and
the {{- -}} whitespace trims."""
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_deploy_kubernetes as kd  # noqa: E402  (the RBAC derivation)

import yaml  # noqa: E402

CHART = os.path.join(h.SOURCE_ROOT, "deploy", "helm", "haproxy-template-ic")
KUSTOMIZE_DIR = os.path.join(h.SOURCE_ROOT, "deploy", "kubernetes")
RULES = os.path.join(h.SOURCE_ROOT, "deploy", "prometheus", "haproxy-template-ic-rules.yaml")
KUBECTL = shutil.which("kubectl")
RELEASE = {"Name": "haproxy-template-ic", "Namespace": "haproxy-template-ic"}
ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class Unsupported(Exception):
    pass


def to_yaml(v):
    return yaml.safe_dump(v, sort_keys=True, default_flow_style=False, allow_unicode=True).rstrip("\n")


def lookup(path, ctx):
    parts = path.lstrip(".").split(".")
    if parts[0] == "Files":
        raise Unsupported(path)
    v = ctx
    for p in parts:
        if not isinstance(v, dict) or p not in v:
            raise KeyError(f"{path}: no {p!r}")
        v = v[p]
    return v


def words(cmd):
    return re.findall(r'"(?:[^"\\]|\\.)*"|\S+', cmd)


def arg(w, ctx):
    if w.startswith('"'):
        return json.loads(w)
    if re.fullmatch(r"\d+", w):
        return int(w)
    if w.startswith("."):
        return lookup(w, ctx)
    raise Unsupported(w)


FUNCS = {
    "toYaml": lambda v: to_yaml(v),
    "quote": lambda v: json.dumps(str(v) if not isinstance(v, bool) else str(v).lower()),
    "sha256sum": lambda v: hashlib.sha256(str(v).encode()).hexdigest(),
    "nindent": lambda n, v: "\n" + "\n".join(" " * n + l if l else l for l in str(v).split("\n")),
    "indent": lambda n, v: "\n".join(" " * n + l if l else l for l in str(v).split("\n")),
}


def evaluate(expr, ctx, files):
    value, first = None, True
    for cmd in [c.strip() for c in expr.split("|")]:
        w = words(cmd)
        if first and w[0] == ".Files.Get":
            if len(w) != 2:
                raise Unsupported(cmd)
            with open(os.path.join(CHART, json.loads(w[1]))) as f:
                value = f.read()
        elif first and w[0].startswith(".") and len(w) == 1:
            value = lookup(w[0], ctx)
        elif w[0] in FUNCS:
            args = [arg(x, ctx) for x in w[1:]] + ([] if first else [value])
            value = FUNCS[w[0]](*args)
        else:
            raise Unsupported(cmd)
        first = False
    return value


def text(v):
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def render(src, ctx):
    """Renders one template. Text and actions are split, trims applied, if/else/end nested."""
    pieces, pos = [], 0
    for m in ACTION.finditer(src):
        pieces.append(("text", src[pos:m.start()]))
        pieces.append(("action", m.group(2), m.group(1) == "-", m.group(3) == "-"))
        pos = m.end()
    pieces.append(("text", src[pos:]))
    for i, p in enumerate(pieces):  # trims
        if p[0] == "action":
            if p[2] and i > 0:
                pieces[i - 1] = ("text", pieces[i - 1][1].rstrip())
            if p[3] and i + 1 < len(pieces):
                pieces[i + 1] = ("text", pieces[i + 1][1].lstrip())
    out, stack = [], [True]  # stack of "emitting" flags
    for p in pieces:
        if p[0] == "text":
            if all(stack):
                out.append(p[1])
            continue
        expr = p[1]
        if expr.startswith("/*"):
            continue
        if expr.startswith("if "):
            stack.append(bool(evaluate(expr[3:], ctx, None)) if all(stack) else False)
        elif expr == "else":
            stack[-1] = not stack[-1] and all(stack[:-1])
        elif expr == "end":
            stack.pop()
        elif all(stack):
            out.append(text(evaluate(expr, ctx, None)))
    assert len(stack) == 1, "unbalanced if/end"
    return "".join(out)


def chart_values():
    with open(os.path.join(CHART, "values.yaml")) as f:
        return yaml.safe_load(f)


def context(overrides=None):
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    values = chart_values()
    for path, v in (overrides or {}).items():
        d = values
        keys = path.split(".")
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = v
    return {"Values": values, "Release": RELEASE,
            "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]}}


def render_chart(overrides=None):
    ctx = context(overrides)
    objs = []
    tdir = os.path.join(CHART, "templates")
    for name in sorted(os.listdir(tdir)):
        with open(os.path.join(tdir, name)) as f:
            out = render(f.read(), ctx)
        if name.endswith(".yaml"):
            objs += [d for d in yaml.safe_load_all(out) if d]
    return objs


def kustomized():
    if KUBECTL:
        p = subprocess.run([KUBECTL, "kustomize", KUSTOMIZE_DIR], capture_output=True, text=True, timeout=60,
                           check=True)
        return [d for d in yaml.safe_load_all(p.stdout) if d]
    return None


def normalise(o):
    o = copy.deepcopy(o)
    md = o["metadata"]
    md.pop("labels", None)
    md.pop("annotations", None)
    if o["kind"] == "ConfigMap":
        md["name"] = re.sub(r"-[a-z0-9]{10}$", "", md["name"])
    if o["kind"] == "Deployment":
        o["spec"]["template"]["metadata"].pop("annotations", None)
        for v in o["spec"]["template"]["spec"].get("volumes", []):
            if "configMap" in v:
                v["configMap"]["name"] = re.sub(r"-[a-z0-9]{10}$", "", v["configMap"]["name"])
    if o["kind"] == "ConfigMap":
        o["data"] = {k: yaml.safe_load(v) if k.endswith(".yaml") else v for k, v in o["data"].items()}
    return o


def by_key(objs):
    # the Namespace is kustomize's alone: helm installs into one (`helm install -n NS --create-namespace`)
    return {(n["kind"], n["metadata"]["name"]): n for n in map(normalise, objs) if n["kind"] != "Namespace"}


def test_templates_stay_inside_the_subset_and_render_to_yaml(tmp):
    for overrides in ({}, {"monitoring.serviceMonitor.enabled": True, "monitoring.prometheusRule.enabled": True}):
        objs = render_chart(overrides)
        assert all("kind" in o and "metadata" in o for o in objs), objs


def test_the_renderer_refuses_what_it_does_not_implement(tmp):
    for bad in ("{{ include \"x\" . }}", "{{ range .Values.x }}{{ end }}", "{{ .Values.nope }}"):
        try:
            render(bad, context())
        except (Unsupported, KeyError):
            continue
        raise AssertionError(f"rendered {bad!r}")


def test_default_values_render_the_same_objects_as_kustomize(tmp):
    k = kustomized()
    if k is None:
        print("# kubectl missing: chart compared with deploy/kubernetes/*.yaml as files", flush=True)
        k = []
        for name in sorted(os.listdir(KUSTOMIZE_DIR)):
            if name.endswith(".yaml") and name != "kustomization.yaml" and name != "config.yaml":
                with open(os.path.join(KUSTOMIZE_DIR, name)) as f:
                    k += [d for d in yaml.safe_load_all(f) if d]
    kk = by_key(k)
    kc = by_key(render_chart())
    if KUBECTL:
        assert set(kk) == set(kc), (sorted(set(kk) - set(kc)), sorted(set(kc) - set(kk)))
    for key in kk:
        if key not in kc:  # only without kubectl: the generated ConfigMaps
            continue
        assert kk[key] == kc[key], f"{key} differs:\nkustomize: {kk[key]}\nchart:     {kc[key]}"


def test_every_value_is_documented_and_used(tmp):
    with open(os.path.join(CHART, "values.yaml")) as f:
        lines = f.read().split("\n")
    templates = ""
    for name in os.listdir(os.path.join(CHART, "templates")):
        with open(os.path.join(CHART, "templates", name)) as f:
            templates += f.read()
    path, whole = [], None  # whole: a mapping a template uses as one value (toYaml .Values.resources)
    for i, line in enumerate(lines):
        m = re.match(r"^( *)([A-Za-z][A-Za-z0-9]*):", line)
        if not m or line.startswith("#"):
            continue
        depth = len(m.group(1)) // 2
        path = path[:depth] + [m.group(2)]
        if whole and path[:len(whole)] == whole and len(path) > len(whole):
            continue
        whole = None
        dotted = ".Values." + ".".join(path)
        used_whole = re.search(re.escape(dotted) + r"(?![.\w])", templates)
        if line.rstrip().endswith(":") and not used_whole:
            continue  # a section: its keys carry the comments
        prev = lines[i - 1].strip() if i else ""
        assert prev.startswith("#"), f"values.yaml: {'.'.join(path)} has no comment above it"
        assert used_whole, f"{dotted} is used by no template"
        whole = path


def test_values_config_is_deploy_kubernetes_config_and_valid(tmp):
    with open(os.path.join(KUSTOMIZE_DIR, "config.yaml")) as f:
        assert chart_values()["config"] == yaml.safe_load(f)
    cm = [o for o in render_chart() if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config")][0]
    path = h.write(os.path.join(tmp, "config.yaml"), cm["data"]["config.yaml"])
    p = subprocess.run([h.HTIC_BIN, "validate-config", path], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, POD_NAMESPACE="haproxy-template-ic", POD_NAME="htic-0"))
    assert p.returncode == 0, p.stdout + p.stderr


def chart_grants(objs):
    kind = lambda k: [o for o in objs if o["kind"] == k]  # noqa: E731
    (role,), (crole,) = kind("Role"), kind("ClusterRole")
    return kd.granted_grants(role["rules"], crole["rules"], RELEASE["Namespace"])


def test_rbac_grants_exactly_what_the_values_config_needs(tmp):
    need = kd.required_grants(chart_values()["config"], RELEASE["Namespace"])
    problems = kd.diff_grants(chart_grants(render_chart()), need)
    assert not problems, "\n".join(problems)
    renamed = {"config.controller.leader_election.lease_name": "other-lease",
               "config.haproxy.dataplane.credentials_secret.name": "other-secret"}
    cfg = context(renamed)["Values"]["config"]
    problems = kd.diff_grants(chart_grants(render_chart(renamed)), kd.required_grants(cfg, RELEASE["Namespace"]))
    assert not problems, "\n".join(problems)


def test_optional_objects_follow_their_values(tmp):
    kinds = lambda objs: sorted(o["kind"] for o in objs)  # noqa: E731
    base = kinds(render_chart())
    assert "ServiceMonitor" not in base and "PrometheusRule" not in base
    on = render_chart({"monitoring.serviceMonitor.enabled": True, "monitoring.prometheusRule.enabled": True})
    rule = [o for o in on if o["kind"] == "PrometheusRule"][0]
    with open(RULES) as f:
        assert rule["spec"] == yaml.safe_load(f)
    assert "ServiceMonitor" in kinds(on)
    off = kinds(render_chart({"haproxy.enabled": False, "podDisruptionBudget.enabled": False,
                              "ingressClassName": ""}))
    assert "PodDisruptionBudget" not in off and "IngressClass" not in off and "Secret" not in off
    assert off.count("Deployment") == 1
    three = [o for o in render_chart({"replicaCount": 3}) if o["kind"] == "Deployment"
             and o["metadata"]["name"] == RELEASE["Name"]][0]
    assert three["spec"]["replicas"] == 3


if __name__ == "__main__":
    h.run([
        test_templates_stay_inside_the_subset_and_render_to_yaml,
        test_the_renderer_refuses_what_it_does_not_implement,
        test_default_values_render_the_same_objects_as_kustomize,
        test_every_value_is_documented_and_used,
        test_values_config_is_deploy_kubernetes_config_and_valid,
        test_rbac_grants_exactly_what_the_values_config_needs,
        test_optional_objects_follow_their_values,
    ])
