#!/usr/bin/python3
"""Every command a doc shows is one a test runs. The commands are the lines of the ```sh, ```bash, ```shell
and ```console blocks of README.md, docs/**/*.md and deploy/**/*.md (continuations joined, comments
dropped, `a && b` split in two; in console blocks only `$ ` lines). Each must be in COVERAGE, exactly as the
doc writes it, as one of:
- Run: this test runs it, with the placeholders its entry names (loopback on a free port for localhost:8080,
  a temp root for /etc and /usr, the build dir for build/): kubectl against the API simulator holding a
  replica's Lease, curl against that replica, the install lines into a temp root, validate-config, render,
  the conformance filter, meson's --list for a suite;
- InTest: a named file that a named test runs holds every word of it (sudo dropped, placeholders mapped): a
  string literal of a Python test, or a word of a script or the Dockerfile that test runs;
- Skip: cannot run here, with the reason (no docker daemon, no helm, no systemd as PID 1, no kubelet).
A doc command missing from COVERAGE fails (add its entry), and so does an entry no doc shows any more.
Inline `code` in prose is not a command here. Not for what the commands print beyond a sanity check."""
import ast
import glob
import grp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kube-sim"))
import harness as h  # noqa: E402
from kubesim import KubeSim  # noqa: E402

ROOT = h.SOURCE_ROOT
BUILD = os.path.dirname(os.path.abspath(h.HTIC_BIN))
NS, LEASE, LEADER = "haproxy-template-ic", "haproxy-template-ic-leader", "htic-0"
FENCE = re.compile(r"^( *)```(sh|bash|shell|console)[ \t]*\n(.*?)^ *```[ \t]*$", re.M | re.S)
CMD_TIMEOUT_S = 120   # the slowest Run here (meson --list, the conformance filter) takes seconds


def doc_files():
    files = ["README.md"] + glob.glob("docs/**/*.md", root_dir=ROOT, recursive=True) + \
        glob.glob("deploy/**/*.md", root_dir=ROOT, recursive=True)
    return sorted(f for f in files if os.path.isfile(os.path.join(ROOT, f)))


def commands_of(text):
    """[(line number, command)] of one Markdown text."""
    out = []
    for m in FENCE.finditer(text):
        first = text.count("\n", 0, m.start(3)) + 1
        lines = [line[len(m.group(1)):] if line.startswith(m.group(1)) else line
                 for line in m.group(3).split("\n")]
        i = 0
        while i < len(lines):
            n, line = first + i, lines[i]
            while line.endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line[:-1].rstrip() + " " + lines[i].strip()
            i += 1
            line = line.strip()
            if m.group(2) == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            line = re.sub(r"\s+#\s.*$", "", line)   # a trailing comment (none of the commands quotes ' # ')
            if not line or line.startswith("#"):
                continue
            out += [(n, " ".join(part.split())) for part in line.split(" && ")]
    return out


def doc_commands():
    """[(file, line, command)] of every doc."""
    return [(f, n, c) for f in doc_files() for n, c in commands_of(h.open_text(os.path.join(ROOT, f)))]


def sh(cmd, env=None, cwd=ROOT):
    """Runs cmd with bash (pipefail), the built binary first on PATH; returns stdout, fails on exit != 0."""
    e = dict(os.environ, PATH=BUILD + os.pathsep + os.environ.get("PATH", ""))
    e.update(env or {})
    p = subprocess.run(["bash", "-c", "set -eo pipefail; " + cmd], cwd=cwd, env=e, capture_output=True,
                       text=True, timeout=CMD_TIMEOUT_S)
    assert p.returncode == 0, f"{cmd}: exit {p.returncode}\n{p.stdout[-2000:]}{p.stderr[-2000:]}"
    return p.stdout


class Cluster:
    """The API simulator and one replica holding the Lease the docs read (its namespace and name), with its
    HTTP endpoints on a free loopback port: what kubectl and curl in the docs talk to."""

    def __init__(self, tmp):
        self.sim = KubeSim(auto_namespaces=True)
        self.sim.__enter__()
        self.port = h.free_port()
        c = h.config(tmp, election=True, http_port=self.port, kubeconfig=self.sim.kubeconfig,
                     leader_election_extra=f"    lease_name: {LEASE}\n")
        self.proc = h.Proc([h.HTIC_BIN, "run", "--config", c], tmp, name="replica",
                           env={"POD_NAME": LEADER, "POD_NAMESPACE": NS})
        h.wait_for(lambda: h.deployers([self.proc]), timeout=30, what="the replica leading")

    def run(self, cmd):
        return sh(cmd.replace("localhost:8080", f"127.0.0.1:{self.port}"), env={"KUBECONFIG": self.sim.kubeconfig})

    def stop(self):
        self.proc.stop()
        self.sim.__exit__(None, None, None)


class Sandbox:
    """A temp root for the install lines: /etc and /usr in a command point into it, and it holds the
    directories a Debian bookworm machine with systemd already has (install without -D needs them)."""
    EXISTING = ("usr/lib/sysusers.d", "usr/lib/tmpfiles.d", "etc/systemd/system")

    def __init__(self, tmp):
        self.root = os.path.join(tmp, "root")
        for d in self.EXISTING:
            os.makedirs(os.path.join(self.root, d))
        self.kubeconfig = h.write(os.path.join(tmp, "kubeconfig"), "apiVersion: v1\nkind: Config\n")

    def run(self, cmd):
        words = cmd.split()
        if words[0] == "sudo":
            words = words[1:]
        group = grp.getgrgid(os.getgid()).gr_name   # the controller's group does not exist here
        words = [self.root + w if w.startswith(("/etc/", "/usr/")) else self.kubeconfig if w == "~/.kube/config"
                 else group if i and words[i - 1] == "-g" else w for i, w in enumerate(words)]
        return sh(" ".join(words))


FIXTURES = {}
FIXTURE_DIR = []   # one temp dir for the fixtures, which outlive the test that first needs them


def fixture(kind, tmp):
    if kind not in FIXTURES:
        if not FIXTURE_DIR:
            FIXTURE_DIR.append(tempfile.mkdtemp(prefix="htic-docs-fixtures-"))
        d = os.path.join(FIXTURE_DIR[0], kind.__name__)
        os.makedirs(d)
        FIXTURES[kind] = kind(d)
    return FIXTURES[kind]


class Run:
    def __init__(self, fn):
        self.fn = fn


class InTest:
    def __init__(self, path, test, subs=None):
        self.path, self.test, self.subs = path, test, subs or {}


class Skip:
    def __init__(self, reason):
        self.reason = reason


def words_of(path):
    """The words a file holds: a Python file's string literals (whole and split), any other file's words."""
    text = h.open_text(os.path.join(ROOT, path))
    if not path.endswith(".py"):
        return set(text.split())
    out = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.add(node.value)
            out.update(node.value.split())
    return out


def in_test(cmd, e):
    assert os.path.isfile(os.path.join(ROOT, "tests", "integration", e.test)) or \
        os.path.isfile(os.path.join(ROOT, e.test)), f"no test {e.test}"
    have = words_of(e.path)
    words = [e.subs.get(w, w) for w in cmd.split() if w != "sudo"]
    missing = [w for w in words if w not in have]
    assert not missing, f"{e.path} (run by {e.test}) lacks {missing} of: {cmd}"


# --- the Run entries --------------------------------------------------------------------------------------

def run_install_deps(cmd, tmp):
    """With sudo and apt-get stubs that fail: passes only when every package is present (what .ci/run makes
    sure), never installs anything."""
    stubs = os.path.join(tmp, "stubs")
    os.makedirs(stubs)
    for name in ("sudo", "apt-get"):
        h.write(os.path.join(stubs, name), "#!/bin/sh\necho \"stub $0: a package is missing\" >&2\nexit 1\n")
        os.chmod(os.path.join(stubs, name), 0o755)
    out = sh(cmd, env={"PATH": stubs + os.pathsep + os.environ["PATH"]})
    assert "packages present" in out, out


def run_meson_list(cmd, tmp):
    """meson test's selection, listed (--list) in this build: the suite or benchmarks exist. The tests
    themselves run in the meson invocation that runs this one."""
    out = sh(cmd.replace("-C build", "-C " + BUILD) + " --list")
    assert len([line for line in out.split("\n") if line.strip() and "ninja" not in line]) > 0, out


def run_in_cluster(check):
    def fn(cmd, tmp):
        check(fixture(Cluster, tmp).run(cmd))
    return fn


def run_in_sandbox(cmd, tmp):
    fixture(Sandbox, tmp).run(cmd)


def run_validate_installed(cmd, tmp):
    box = fixture(Sandbox, tmp)
    path = cmd.split()[-1]
    assert os.path.isfile(box.root + path), f"{path}: not installed by the lines before it"
    sh(cmd.replace(path, box.root + path))


def run_render_synopsis(cmd, tmp):
    """The usage line of `render`, with FILE and FILE.json as temp files: once bare and once per option
    ([--a] and the alternatives of a|b), and the output checked."""
    t = h.write(os.path.join(tmp, "t.j2"), "{% for x in items %}{{ x }};{% endfor %}\n")
    c = h.write(os.path.join(tmp, "c.json"), '{"items": [1, 2]}')
    base = re.sub(r"\s*\[.*", "", cmd).replace("--template FILE", f"--template {t}") \
        .replace("--context FILE.json", f"--context {c}")
    variants = [base]
    for opt in re.findall(r"\[([^\]]+)\]", cmd):
        name, _, alts = opt.partition(" ")
        variants += [f"{base} {name} {a}".strip() for a in (alts.split("|") if alts else [""])]
    for v in variants:
        assert sh(v).strip() == "1;2;", v


def run_conformance(cmd, tmp):
    out = sh(cmd.replace("HTIC_BIN=build/", f"HTIC_BIN={BUILD}/"))
    assert re.search(r"^ok \d+", out, re.M) and "not ok" not in out, out[-2000:]


class Scratch:
    """A directory that lives as long as the fixtures: for /tmp paths that several doc lines share."""

    def __init__(self, tmp):
        self.dir = tmp


def run_corpus_copy(cmd, tmp):
    sh(cmd.replace("/tmp/corpus", os.path.join(fixture(Scratch, tmp).dir, "corpus")))


def leads(out):
    assert out.strip() == LEADER, out


def lease_yaml(out):
    assert f"holderIdentity: {LEADER}" in out, out


def json_vars(out):
    assert isinstance(json.loads(out), dict), out[:200]


def metric_lines(out):
    assert re.search(r"^haproxy_ic_leader_election\w* ", out, re.M), out


def is_leader_1(out):
    assert re.search(r"^haproxy_ic_leader_election_is_leader(\{[^}]*\})? 1(\.0)?$", out, re.M), out


def secret_created(out):
    assert "secret/haproxy-credentials" in out, out


NO_DOCKER = Skip("no docker daemon here; test_deploy_image.py checks the Dockerfile and runs its build stage")
NO_HELM = Skip("no helm binary here; test_deploy_helm.py renders the chart and compares it with kustomize")
NO_CLUSTER = Skip("needs a real cluster (a kubelet for port-forward, apps/v1 and RBAC for the manifests): "
                  "the simulator serves neither; `kubectl kustomize` of the same dir is test_deploy_kubernetes.py's")
NO_SYSTEMD = Skip("no systemd as PID 1 here; test_systemd_unit.py verifies the unit and its ExecReload, "
                  "test_systemd_notify.py its notifications")
FUZZ = Skip("fuzz builds are made by hand, not in CI (docs/development.md); their runs are in docs/performance.md")
BENCH = Skip("benchmarks are run by hand and print (they take minutes on this shared machine); "
             "their numbers are in docs/performance.md")
BENCH_ALL = Skip("the full benchmark run takes about 40 minutes; test_bench_all.py runs the same command with "
                 "--quick on two benchmarks and checks its table")
CHAOS_LONG = Skip("the long soak (1,000 faults, 15 minutes); test_chaos_soak runs soak.py with a fixed seed for a "
                  "minute of faults and checks it with the same checker")
WHOLE_SUITE = Skip("the whole suite, half of it (gcc only): what runs this test; .ci/run runs ./tests/run.sh")

COVERAGE = {
    # README.md, docs/development.md
    "./deploy/install-deps.sh": Run(run_install_deps),
    "./deploy/demo.sh": InTest("tests/integration/test_demo.py", "test_demo.py", {"./deploy/demo.sh": "demo.sh"}),
    "./tests/run.sh": InTest(".ci/run", ".ci/run"),
    "./tests/run.sh --quick": WHOLE_SUITE,
    "meson setup build": InTest("tests/run.sh", ".ci/run", {"build": '"$dir"'}),
    "ninja -C build": InTest("tests/run.sh", ".ci/run", {"build": '"$dir"'}),
    "meson test -C build": InTest("tests/run.sh", ".ci/run", {"build": '"$dir"'}),
    "meson test -C build --suite unit": Run(run_meson_list),
    "meson test -C build --benchmark": Run(run_meson_list),
    "/usr/bin/python3 tests/bench/run_all.py --build build": BENCH_ALL,
    "HTIC_BUILD_ROOT=build /usr/bin/python3 tests/bench/bench_traffic.py --scales 100,1000": BENCH,
    "HTIC_BUILD_ROOT=$PWD/build tests/chaos/soak.py --seed 1204 --duration 900 --max-faults 1000 "
    "--fault-interval 0.6 --out /tmp/chaos-long": CHAOS_LONG,
    "CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false "
    "-Dc_args=-fsanitize=fuzzer-no-link": FUZZ,
    "CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false "
    "-Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=all' -Dc_link_args=-fno-sanitize-recover=all": FUZZ,
    "ninja -C build-fuzz": FUZZ,
    "ninja -C build-fuzz tests/fuzz/fuzz_kube_watch": FUZZ,
    "ninja -C build-fuzz tests/fuzz/fuzz_template": FUZZ,
    "build-fuzz/tests/fuzz/fuzz_kube_watch -runs=200000": FUZZ,
    "build-fuzz/tests/fuzz/fuzz_kube_watch -runs=2000000 -max_len=4096 /tmp/corpus": FUZZ,
    "build-fuzz/tests/fuzz/fuzz_packed -max_total_time=300 -max_len=4096 -dict=tests/fuzz/fuzz_packed.dict "
    "WORK_DIR tests/fuzz/corpus/packed": FUZZ,
    "build-fuzz/tests/fuzz/fuzz_template -dict=tests/fuzz/fuzz_template.dict -max_len=4096 -timeout=10 "
    "CORPUS_DIR": FUZZ,
    "mkdir -p /tmp/corpus": Run(run_corpus_copy),
    "cp tests/fuzz/corpus/kube_watch/* /tmp/corpus/": Run(run_corpus_copy),
    # docs/deployment.md, Kubernetes
    "docker build -f deploy/Dockerfile -t haproxy-template-ic .": NO_DOCKER,
    "kubectl -n haproxy-template-ic create secret generic haproxy-credentials "
    "--from-literal=dataplane_username=admin --from-literal=dataplane_password=\"$(openssl rand -hex 16)\" "
    "--dry-run=client -o yaml | kubectl apply -f -": Run(run_in_cluster(secret_created)),
    "kubectl apply -k deploy/kubernetes": NO_CLUSTER,
    "helm install haproxy-template-ic deploy/helm/haproxy-template-ic -n haproxy-template-ic --create-namespace "
    "--set image.repository=registry.example/haproxy-template-ic "
    "--set haproxy.credentials.password=\"$(openssl rand -hex 16)\"": NO_HELM,
    "kubectl -n haproxy-template-ic get lease haproxy-template-ic-leader -o jsonpath='{.spec.holderIdentity}'":
        Run(run_in_cluster(leads)),
    "kubectl -n haproxy-template-ic port-forward deployment/haproxy-template-ic 8080:8080": NO_CLUSTER,
    "curl -s localhost:8080/metrics | grep haproxy_ic_leader_election_is_leader": Run(run_in_cluster(is_leader_1)),
    # docs/deployment.md, bare metal
    "meson setup /tmp/htic-build --buildtype=release --prefix=/usr -Dtests=false":
        InTest("deploy/Dockerfile", "test_deploy_image.py", {"/tmp/htic-build": "/build"}),
    "ninja -C /tmp/htic-build": InTest("deploy/Dockerfile", "test_deploy_image.py", {"/tmp/htic-build": "/build"}),
    "sudo meson install -C /tmp/htic-build --no-rebuild":
        InTest("deploy/Dockerfile", "test_deploy_image.py", {"/tmp/htic-build": "/build"}),
    "sudo install -m 0644 deploy/systemd/haproxy-template-ic.sysusers /usr/lib/sysusers.d/haproxy-template-ic.conf":
        Run(run_in_sandbox),
    "sudo install -m 0644 deploy/systemd/haproxy-template-ic.tmpfiles /usr/lib/tmpfiles.d/haproxy-template-ic.conf":
        Run(run_in_sandbox),
    "sudo systemd-sysusers": InTest("tests/integration/test_systemd_unit.py", "test_systemd_unit.py"),
    "sudo systemd-tmpfiles --create haproxy-template-ic.conf":
        InTest("tests/integration/test_systemd_unit.py", "test_systemd_unit.py"),
    "sudo install -D -m 0644 deploy/systemd/haproxy-master-socket.conf "
    "/etc/systemd/system/haproxy.service.d/master-socket.conf": Run(run_in_sandbox),
    "sudo systemctl daemon-reload": NO_SYSTEMD,
    "sudo systemctl restart haproxy": NO_SYSTEMD,
    "sudo install -D -m 0640 -g haproxy-template-ic deploy/examples/bare-metal.yaml "
    "/etc/haproxy-template-ic/config.yaml": Run(run_in_sandbox),
    "sudo install -m 0640 -g haproxy-template-ic ~/.kube/config /etc/haproxy-template-ic/kubeconfig":
        Run(run_in_sandbox),
    "haproxy-template-ic validate-config /etc/haproxy-template-ic/config.yaml": Run(run_validate_installed),
    "sudo install -m 0644 deploy/systemd/haproxy-template-ic.service /etc/systemd/system/": Run(run_in_sandbox),
    "sudo systemctl enable --now haproxy-template-ic": NO_SYSTEMD,
    "sudo systemctl reload haproxy-template-ic": NO_SYSTEMD,
    "journalctl -u haproxy-template-ic -f": NO_SYSTEMD,
    # docs/operations/troubleshooting.md
    "kubectl -n haproxy-template-ic get lease haproxy-template-ic-leader -o yaml": Run(run_in_cluster(lease_yaml)),
    "kubectl -n haproxy-template-ic port-forward pod/<pod> 8080:8080": NO_CLUSTER,
    "curl -s localhost:8080/debug/vars": Run(run_in_cluster(json_vars)),
    "curl -s localhost:8080/metrics | grep haproxy_ic_leader_election": Run(run_in_cluster(metric_lines)),
    # docs/performance.md
    "build/tests/bench/bench_kube_list --mode list --count 10000 --page 500": BENCH,
    "build/tests/bench/bench_kube_list --mode informer --count 10000 --page 500": BENCH,
    "build/tests/bench/bench_kube_list --write-seed /tmp/seed10k.json --count 10000": BENCH,
    "build/tests/kube-sim/kube-sim --port 0 --control-port 0 --port-file /tmp/port.json --seed /tmp/seed10k.json "
    "--auto-create-namespaces &": BENCH,
    "build/tests/bench/bench_kube_list --url http://127.0.0.1:PORT --mode list --count 10000": BENCH,
    "/usr/bin/python3 tests/bench/bench_template.py build/tests/bench/bench_template 1000 10000 "
    "--cli build/haproxy-template-ic": BENCH,
    "build/tests/bench/bench_store --count 10000 [--context-ingresses 10000]": BENCH,
    # docs/templates.md
    "haproxy-template-ic render --template FILE --context FILE.json [--no-trim-blocks] [--no-lstrip-blocks] "
    "[--strict] [--context-loader packed|json-c]": Run(run_render_synopsis),
    "HTIC_BIN=build/haproxy-template-ic /usr/bin/python3 tests/template/run_conformance.py --filter macro -v":
        Run(run_conformance),
}


def test_the_scan_finds_the_known_commands(tmp):
    found = {c for _, _, c in doc_commands()}
    for known in ("kubectl apply -k deploy/kubernetes", "curl -s localhost:8080/debug/vars",
                  "sudo systemctl reload haproxy-template-ic", "meson test -C build --suite unit"):
        assert known in found, sorted(found)
    assert commands_of("   ```sh\n   a \\\n     b  # note\n   # only a comment\n   c && d\n   ```\n"
                       "```console\n$ e\noutput\n```\n") == [(2, "a b"), (5, "c"), (5, "d"), (8, "e")]


def test_every_doc_command_is_covered_and_every_entry_is_in_a_doc(tmp):
    cmds = doc_commands()
    missing = [f"{f}:{n}: {c}" for f, n, c in cmds if c not in COVERAGE]
    assert not missing, "doc commands no test runs (add a COVERAGE entry):\n" + "\n".join(missing)
    stale = set(COVERAGE) - {c for _, _, c in cmds}
    assert not stale, f"COVERAGE entries no doc shows any more: {sorted(stale)}"


def test_the_commands_not_run_here_are_few_and_say_why(tmp):
    skipped = [(f, n, c) for f, n, c in doc_commands() if isinstance(COVERAGE.get(c), Skip)]
    for f, n, c in skipped:
        assert COVERAGE[c].reason.strip(), c
        print(f"# not run: {f}:{n}: {c}: {COVERAGE[c].reason}", flush=True)
    ran = [c for _, _, c in doc_commands() if isinstance(COVERAGE.get(c), (Run, InTest))]
    assert len(ran) > len(skipped) / 2, (len(ran), len(skipped))


def test_a_wrong_command_fails_its_run(tmp):
    """The Run checks see a wrong command: a Lease name no replica holds, a metric that does not exist, a
    file the repository does not have."""
    for cmd, fn in (("kubectl -n haproxy-template-ic get lease no-such-lease -o jsonpath='{.spec.holderIdentity}'",
                     run_in_cluster(leads)),
                    ("curl -s localhost:8080/metrics | grep haproxy_ic_no_such_metric", run_in_cluster(metric_lines)),
                    ("sudo install -m 0644 deploy/systemd/no-such.service /etc/systemd/system/", run_in_sandbox)):
        try:
            fn(cmd, tmp)
        except AssertionError:
            continue
        raise AssertionError(f"passed: {cmd}")


def check(f, n, cmd):
    e = COVERAGE[cmd]

    def t(tmp):
        if isinstance(e, Run):
            e.fn(cmd, tmp)
        else:
            in_test(cmd, e)
    words = re.sub(r"[^A-Za-z0-9]+", "_", f"{f} {n} {cmd}")[:90].strip("_")
    t.__name__ = f"test_{type(e).__name__.lower()}_{words}"
    return t


if __name__ == "__main__":
    tests = [test_the_scan_finds_the_known_commands, test_every_doc_command_is_covered_and_every_entry_is_in_a_doc,
             test_the_commands_not_run_here_are_few_and_say_why]
    tests += [check(f, n, c) for f, n, c in doc_commands() if isinstance(COVERAGE.get(c), (Run, InTest))]
    tests += [test_a_wrong_command_fails_its_run]
    code = 1
    try:
        h.run(tests)
    except SystemExit as e:
        code = e.code
    finally:
        for fx in FIXTURES.values():
            if hasattr(fx, "stop"):
                fx.stop()
        if FIXTURE_DIR and code == 0:
            shutil.rmtree(FIXTURE_DIR[0], ignore_errors=True)
        elif FIXTURE_DIR:
            print(f"# fixtures kept in {FIXTURE_DIR[0]}", flush=True)
    sys.exit(code)
