#!/usr/bin/env python3
"""Bad configs are refused with every problem named (file:line:column: path: message): `run` does not
start, `validate-config` lists them; good ones pass. Also `version` and usage errors."""
import os
import subprocess

import harness as h


def run(*args, timeout=10, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([h.HTIC_BIN, *args], capture_output=True, text=True, timeout=timeout, env=e)


BAD = """controller:
  leader_election:
    enabled: true
    lease_name: Not_A_DNS_Name
    lease_namespace: default
    lease_duration: 10s
    renew_deadline: 15s
    retry_period: soon
  bogus_key: 1
haproxy:
  endpoints:
    - name: local
      master_socket: /tmp/x.sock
haproxy_config:
  template: "global"
"""


def test_validate_config_lists_every_problem(tmp):
    path = h.write(os.path.join(tmp, "bad.yaml"), BAD)
    r = run("validate-config", path)
    assert r.returncode == 1, r
    out = r.stdout + r.stderr
    for needle in ("controller.leader_election.lease_name", "controller.leader_election.retry_period",
                   "controller.bogus_key", f"{path}:4:"):
        assert needle in out, (needle, out)


def test_run_refuses_a_bad_config_and_starts_nothing(tmp):
    path = h.write(os.path.join(tmp, "bad.yaml"), BAD)
    r = run("run", "--config", path)
    assert r.returncode == 1, r
    assert "controller.bogus_key" in r.stderr and "not starting" in r.stderr, r.stderr


def test_run_refuses_a_missing_config(tmp):
    r = run("run", "--config", os.path.join(tmp, "absent.yaml"))
    assert r.returncode == 1 and "absent.yaml" in r.stderr, r


def test_validate_config_accepts_the_examples(tmp):
    for name in ("minimal.yaml", "ha.yaml"):
        # in a pod, the downward API sets POD_NAMESPACE (ha.yaml leaves lease_namespace to it)
        r = run("validate-config", os.path.join(h.SOURCE_ROOT, "deploy", "examples", name),
                env={"POD_NAMESPACE": "ingress"})
        assert r.returncode == 0, (name, r.stdout, r.stderr)


def test_lease_timing_rule_message_names_both_values(tmp):
    path = h.write(os.path.join(tmp, "c.yaml"), h.open_text(h.config(tmp, election=True,
        leader_election_extra="    lease_namespace: default\n    lease_duration: 10s\n    renew_deadline: 15s")))
    r = run("validate-config", path)
    assert r.returncode == 1
    assert "renew_deadline" in r.stdout + r.stderr and "15s" in r.stdout + r.stderr, r


def test_run_refuses_an_unusable_run_dir(tmp):
    blocker = h.write(os.path.join(tmp, "a-file"), "not a directory\n")
    cfg = h.open_text(h.config(tmp)).replace(f"run_dir: {tmp}/run", f"run_dir: {blocker}/run")
    path = h.write(os.path.join(tmp, "c.yaml"), cfg)
    r = run("run", "--config", path)
    assert r.returncode == 1, r
    assert "controller.run_dir" in r.stderr and "a-file" in r.stderr, r.stderr


def test_validate_config_hostile_inputs(tmp):
    # a directory is named as such (was "Input/output error")
    r = run("validate-config", tmp)
    assert r.returncode == 1 and f"{tmp}: is a directory" in r.stdout, r
    # 100 000 nested [ : refused at the depth bound with line and column (took libyaml > 15 s before);
    # no timing assertion, the run() timeout is the bound
    path = h.write(os.path.join(tmp, "deep.yaml"), "a: " + "[" * 100000 + "\n")
    r = run("validate-config", path, timeout=60)
    assert r.returncode == 1 and f"{path}:1:" in r.stdout and "nested deeper than 64 levels" in r.stdout, r
    # a template that does not parse, named with its own position
    cfg = BAD.split("haproxy_config:")[0].replace("  bogus_key: 1\n", "").replace(
        "lease_name: Not_A_DNS_Name", "lease_name: ok").replace("lease_duration: 10s", "lease_duration: 15s").replace(
        "renew_deadline: 15s", "renew_deadline: 10s").replace("retry_period: soon", "retry_period: 2s")
    path = h.write(os.path.join(tmp, "tmpl.yaml"), cfg + "haproxy_config:\n  template: \"{% for x in %}\"\n")
    r = run("validate-config", path)
    assert r.returncode == 1 and "haproxy_config.template: template haproxy.cfg, line 1, column" in r.stdout, r
    assert "1 problem in" in r.stdout, r


def test_version_and_usage(tmp):
    r = run("version")
    assert r.returncode == 0 and r.stdout.startswith("haproxy-template-ic "), r
    r = run("frobnicate")
    assert r.returncode == 2 and "usage" in r.stderr, r
    r = run("--role", "elector")
    assert r.returncode != 0 and "supervisor" in r.stderr, r


if __name__ == "__main__":
    h.run([
        test_validate_config_accepts_the_examples,
        test_validate_config_lists_every_problem,
        test_run_refuses_a_bad_config_and_starts_nothing,
        test_run_refuses_a_missing_config,
        test_lease_timing_rule_message_names_both_values,
        test_run_refuses_an_unusable_run_dir,
        test_validate_config_hostile_inputs,
        test_version_and_usage,
    ])
