"""The validator role on its own: the real binary started as `--role validator` on a socketpair this test
holds (as the supervisor would), fed `rendered` frames, answering `validated` frames; real haproxy -c for
the verdicts, a fake binary where the test must control when a check ends."""
import os
import signal

import harness
from role_child import RoleChild

VALID_CFG = """global
    maxconn 100
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:8080
    default_backend be
backend be
    server s1 127.0.0.1:1
"""


class Validator(RoleChild):
    """The role on a socketpair (role_child.py), with its config and run directory in tmp; stopped (and its
    children killed) on exit."""

    def __init__(self, tmp, binary="haproxy"):
        self.tmp = tmp
        self.run_dir = os.path.join(tmp, "run")
        self.config = harness.write(os.path.join(tmp, "config.yaml"), f"""
controller:
  leader_election:
    enabled: false
  http:
    address: 127.0.0.1
    port: 0
  run_dir: {self.run_dir}
haproxy:
  binary: {binary}
  endpoints:
    - name: local
      master_socket: {tmp}/haproxy-master.sock
haproxy_config:
  template: "global\\n"
""")
        super().__init__("validator", self.config, tmp)

    def validated(self, n=1):
        return [self.next("validated") for _ in range(n)]

    def generation(self, name, cfg):
        d = os.path.join(self.run_dir, "gen", name)
        os.makedirs(d, exist_ok=True)
        harness.write(os.path.join(d, "haproxy.cfg"), cfg)
        return d

    def rendered(self, render_id, name, cfg=VALID_CFG):
        d = self.generation(name, cfg)
        self.send({"type": "rendered", "render_id": render_id, "checksum": "sha256:" + name, "dir": d,
                   "changed": [], "trial": False, "excluded": []})


def metric_values(msgs, name):
    """{label values tuple: value} of the newest metrics report's family `name`."""
    for m in reversed(msgs):
        if m["type"] != "metrics":
            continue
        for fam in m["metrics"]:
            if fam["name"] == name:
                return {tuple(s["labels"]): s.get("value", s.get("count")) for s in fam["series"]}
    return {}


def test_validator_answers_valid_and_invalid_generations_with_quoted_lines(tmp):
    with Validator(tmp) as v:
        v.rendered("r1", "aa" * 32)
        a = v.validated()[0]
        assert a["render_id"] == "r1" and a["ok"] is True and a["outcome"] == "valid", a
        assert a["checksum"] == "sha256:" + "aa" * 32 and a["superseded"] is False, a
        v.rendered("r2", "bb" * 32, VALID_CFG.replace("    default_backend be\n", "    bogus_keyword x\n"))
        b = v.validated()[0]
        assert b["render_id"] == "r2" and b["ok"] is False and b["outcome"] == "invalid", b
        assert "[/etc/haproxy/haproxy.cfg:10]" in b["message"], b["message"]
        assert ">    10 |     bogus_keyword x" in b["message"], b["message"]
        assert v.run_dir not in b["message"], b["message"]
        # one event for the failure, then the metrics counting both outcomes
        v.next("event", pred=lambda m: m["event"] == "ValidationFailed")
        v.next("metrics")
        ev = [m for m in v.all if m["type"] == "event" and m["event"] == "ValidationFailed"]
        assert len(ev) == 1 and ev[0]["fields"]["render_id"] == "r2", ev
        counts = metric_values(v.all, "haproxy_ic_validations_total")
        assert counts.get(("valid",)) == 1 and counts.get(("invalid",)) == 1, counts
        assert os.listdir(os.path.join(v.run_dir, "validate")) == []


def fake_binary(tmp):
    """A stand-in haproxy that records each run and blocks until the test creates `release`."""
    runs, release = os.path.join(tmp, "runs"), os.path.join(tmp, "release")
    path = harness.write(os.path.join(tmp, "fake-haproxy"), f"""#!/bin/sh
echo "$$" >> {runs}
while [ ! -e {release} ]; do /bin/sleep 0.05; done
echo 'Configuration file is valid'
""")
    os.chmod(path, 0o755)
    return path, runs, release


def read_runs(runs):
    if not os.path.exists(runs):
        return []
    with open(runs) as f:
        return f.read().split("\n")[:-1]


def test_validator_latest_wins_and_same_checksum_is_not_checked_again(tmp):
    binary, runs, release = fake_binary(tmp)
    with Validator(tmp, binary) as v:
        v.rendered("r1", "01" * 32)
        harness.wait_for(lambda: len(read_runs(runs)) == 1, what="first check running")
        v.rendered("r2", "02" * 32)  # waits
        v.rendered("r3", "03" * 32)  # replaces r2, which never runs
        s = v.validated()[0]
        assert s["render_id"] == "r2" and s["superseded"] is True and s["ok"] is False, s
        assert s["outcome"] == "superseded" and s["superseded_by"] == "r3", s
        harness.write(release, "")
        done = v.validated(2)
        assert [d["render_id"] for d in done] == ["r1", "r3"] and all(d["ok"] for d in done), done
        v.rendered("r4", "03" * 32)  # same checksum as r3: from the cache
        c = v.validated()[0]
        assert c["render_id"] == "r4" and c["ok"] is True and c["cached"] is True, c
        assert len(read_runs(runs)) == 2, read_runs(runs)
        v.next("metrics")
        assert metric_values(v.all, "haproxy_ic_validation_cache_hits_total").get(()) == 1


def test_validator_shutdown_kills_a_running_check_and_removes_its_scratch_dir(tmp):
    binary, runs, _ = fake_binary(tmp)
    with Validator(tmp, binary) as v:
        v.rendered("r1", "0a" * 32)
        harness.wait_for(lambda: len(read_runs(runs)) == 1, what="check running")
        pid = int(read_runs(runs)[0].split()[0])
        assert v.shutdown() == 0
        assert not harness.alive(pid), "the check outlived the validator"
        assert os.listdir(os.path.join(v.run_dir, "validate")) == []


def test_validator_refuses_a_dir_outside_its_generations(tmp):
    with Validator(tmp) as v:
        outside = os.path.join(tmp, "elsewhere")
        os.makedirs(outside)
        harness.write(os.path.join(outside, "haproxy.cfg"), VALID_CFG)
        v.send({"type": "rendered", "render_id": "r1", "checksum": "sha256:x", "dir": outside, "trial": False})
        a = v.validated()[0]
        assert a["ok"] is False and a["outcome"] == "error" and "not under" in a["message"], a
        v.send({"type": "rendered", "render_id": "r2", "checksum": "sha256:y",
                "dir": os.path.join(v.run_dir, "gen", ".."), "trial": False})
        b = v.validated()[0]
        assert b["ok"] is False and b["outcome"] == "error", b


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    harness.run([
        test_validator_answers_valid_and_invalid_generations_with_quoted_lines,
        test_validator_latest_wins_and_same_checksum_is_not_checked_again,
        test_validator_shutdown_kills_a_running_check_and_removes_its_scratch_dir,
        test_validator_refuses_a_dir_outside_its_generations,
    ])
