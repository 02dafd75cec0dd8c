#!/usr/bin/env python3
"""The chaos checker against synthetic logs: a clean run passes, and each rule fails when its invariant is
broken (two terms overlapping, a push after its fence, a Lease written by a non-holder, a change lost or
late, a leaderless stretch after the faults, a process left behind, an unstamped side effect), so a soak
that passes means something. Not for: running a soak (test_soak.py)."""
import datetime
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
import checker as c  # noqa: E402
import harness as h  # noqa: E402

LD, RD, RP = 4.0, 2.5, 1.0
T0 = 1_800_000_000.0
UA = "haproxy-template-ic-elector/0.1.0 ({})"


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lw(t, writer, holder, transitions, duration=int(LD), client=None):
    """One simulator audit line of a Lease write."""
    return {"time": iso(T0 + t), "client": client if client is not None else UA.format(writer),
            "resource": "leases", "namespace": "ns", "name": "lease", "verb": "update",
            "object": {"spec": {"holderIdentity": holder, "leaseTransitions": transitions,
                                "leaseDurationSeconds": duration}}}


def reign(writer, transitions, start, end, step=RP):
    out, t = [], start
    while t <= end + 1e-9:
        out.append(lw(t, writer, writer, transitions))
        t += step
    return out


def fx(t, term, source="r0:journal", after_act=False, what="probe"):
    return {"t": T0 + t, "term": term, "source": source, "what": what, "after_act": after_act}


def clean_run():
    """a#0 leads 0..10 s and dies; b#1 takes over at 10 + LD (its first write) and leads to 30 s."""
    audit = reign("a", 0, 0, 10) + reign("b", 1, 10 + LD, 30)
    effects = [fx(t, "a#0") for t in (0.5, 3, 9.9, 12.4)] + \
              [fx(t, "b#1", "r1:audit", True, "local push ok") for t in (14.5, 20, 29.5)]
    samples = [(T0 + 21 + i * 0.5, {"r0.lkg": "sha256:x", "target.local": "sha256:x"}) for i in range(6)]
    return {"params": {"seed": 42, "lease_duration_s": LD, "renew_deadline_s": RD, "retry_period_s": RP,
                       "convergence_bound_s": 60.0},
            "t_start": T0, "t_stop": T0 + 20, "t_end": T0 + 30.2, "sim_audit": audit, "effects": effects,
            "offsets": [], "faults": [{"kind": "supervisor_sigkill"}, {"kind": "sim_hang"},
                                      {"kind": "supervisor_sigkill"}],
            "samples": samples, "fresh": "sha256:x", "left_behind": []}


def writes(audit, offsets=()):
    return c.lease_writes(audit, offsets)


def test_a_clean_run_passes_and_is_summarised(tmp):
    bad, s = c.check(clean_run())
    assert bad == [], bad
    assert s["faults"] == 3 and s["faults_by_kind"] == {"sim_hang": 1, "supervisor_sigkill": 2}, s
    assert s["leadership_changes"] == 1 and s["terms"] == 2 and s["pushes"] == 3, s
    # a's last renewal at 10 s, b's first write at 14 s: 4 s without a leader, none after the faults stop
    assert abs(s["time_without_leader_s"] - LD) < 0.01 and s["longest_leaderless_after_faults_s"] == 0, s
    assert abs(s["convergence_s"] - 1.0) < 0.01, s
    assert "passed" in c.format_summary(s, bad) and "reproduce" not in c.format_summary(s, bad)


def test_overlapping_terms_fail(tmp):
    run = clean_run()
    run["effects"].append(fx(15.0, "a#0"))  # a still acting after b began at 14.5
    bad = c.check_one_term_at_a_time(run["effects"])
    assert len(bad) == 1 and "'a#0'" in bad[0] and "'b#1'" in bad[0], bad
    assert c.check_one_term_at_a_time(clean_run()["effects"]) == []
    vio, s = c.check(run)
    text = c.format_summary(s, vio)
    assert "FAILED" in text and "--seed 42" in text, text


def test_a_side_effect_after_its_fence_fails(tmp):
    w = writes(clean_run()["sim_audit"])
    # a's last renewal at 10 s: its fence is at most 12.5 s
    assert c.check_fences([fx(12.5, "a#0")], w, RD) == []
    bad = c.check_fences([fx(12.7, "a#0")], w, RD)
    assert len(bad) == 1 and "after its fence" in bad[0], bad
    # an audit line is written when the push ends: a little slack, not more
    assert c.check_fences([fx(12.7, "a#0", after_act=True)], w, RD) == []
    assert c.check_fences([fx(13.0, "a#0", after_act=True)], w, RD) != []
    # an effect before the term was acquired, and one of a term no write granted
    assert "before the term was acquired" in c.check_fences([fx(13.0, "b#1")], w, RD)[0]
    assert "no Lease write ever granted" in c.check_fences([fx(5.0, "c#7")], w, RD)[0]


def test_an_unstamped_side_effect_fails(tmp):
    assert c.check_unstamped(clean_run()["effects"]) == []
    assert "without a term" in c.check_unstamped([fx(1.0, "")])[0]


def test_a_lease_written_by_a_non_holder_fails(tmp):
    assert c.check_lease_writers(writes(clean_run()["sim_audit"])) == []
    # b takes over 1 s after a's last renewal: a's record still had 3 s
    early = reign("a", 0, 0, 10) + [lw(11.0, "b", "b", 1)]
    bad = c.check_lease_writers(writes(early))
    assert len(bad) == 1 and "while 'a' held it" in bad[0], bad
    # releasing (empty holder) someone else's valid Lease is the same fault
    assert "while 'a' held it" in c.check_lease_writers(writes(reign("a", 0, 0, 3) + [lw(3.5, "b", "", 0, 1)]))[0]
    # a's own release lets b acquire at once
    assert c.check_lease_writers(writes(reign("a", 0, 0, 3) + [lw(3.2, "a", "", 0, 1), lw(3.4, "b", "b", 1)])) == []
    # naming another holder, and a writer that is no elector
    assert "naming 'a' holder" in c.check_lease_writers(writes([lw(0, "b", "a", 0)]))[0]
    assert "no elector" in c.check_lease_writers(writes([lw(0, "", "a", 0, client="kubectl/v1.30")]))[0]


def test_clock_offset_windows_shift_the_simulator_back(tmp):
    # the simulator's clock ran 30 s ahead from 9.5 s to 11 s (real): a renewal at 10 s is stamped 40 s
    audit = reign("a", 0, 0, 9) + [lw(40.0, "a", "a", 0)] + reign("b", 1, 14.0, 20)
    offsets = [(T0 + 9.5, T0 + 11.0, 30_000)]
    assert c.check_lease_writers(writes(audit, offsets)) == []
    # without the window the order looks broken: b writes "at 14 s" while a's record of "40 s" is valid
    assert c.check_lease_writers(writes(audit)) != []
    # and the fence of a's term follows the real time of its renewal
    assert c.check_fences([fx(12.4, "a#0")], writes(audit, offsets), RD) == []
    # a window 41 s behind: an unshifted stamp at 6 s would land in it read as shifted, a shifted one at
    # 47.5 s reads as 6.5 s unshifted; the order of the writes tells them apart
    behind = reign("a", 0, 0, 46) + [lw(6.5, "a", "a", 0)] + reign("a", 0, 48, 52)
    back = [(T0 + 47.0, T0 + 47.9, -41_000)]
    ts = [w["t"] - T0 for w in writes(behind, back)]
    assert ts == sorted(ts) and abs(ts[6] - 6.0) < 1e-6 and abs(ts[47] - 47.5) < 1e-6, ts
    assert c.check_fences([fx(8.0, "a#0"), fx(49.0, "a#0")], writes(behind, back), RD) == []
    # read stamp by stamp (no order), the shifted stamp would be a renewal 41 s too early
    assert c.check_fences([fx(49.9, "a#0")], writes(reign("a", 0, 0, 46) + [lw(6.5, "a", "a", 0)]), RD) != []


def test_no_leader_too_long_after_the_faults_fails(tmp):
    w = writes(reign("a", 0, 0, 25) + reign("b", 1, 25 + LD + RP + 2.0, 40))
    bad, longest = c.check_leader_after_faults(w, T0 + 20, T0 + 40, LD, RP)
    assert len(bad) == 1 and "no leader" in bad[0] and longest > LD + RP, (bad, longest)
    # the same gap while faults still ran does not count
    assert c.check_leader_after_faults(w, T0 + 35, T0 + 40, LD, RP)[0] == []
    # a gap that began under faults counts from the moment they stopped
    assert c.check_leader_after_faults(w, T0 + 29, T0 + 40, LD, RP)[0] == []
    assert c.check_leader_after_faults(w, T0 + 26, T0 + 40, LD, RP)[0] != []
    # the last holder's record lapsing with nobody taking over, or nobody ever leading
    lapsed = writes(reign("a", 0, 0, 21))
    assert c.check_leader_after_faults(lapsed, T0 + 20, T0 + 40, LD, RP)[0] != []
    assert c.check_leader_after_faults([], T0 + 20, T0 + 40, LD, RP)[0] != []
    # the same holder coming back after its record lapsed (client-go keeps the transitions): a gap too
    back = writes(reign("a", 0, 0, 21) + reign("a", 0, 21 + LD + RP + 2, 40))
    assert c.check_leader_after_faults(back, T0 + 20, T0 + 40, LD, RP)[0] != []


def test_a_lost_or_late_change_fails(tmp):
    ok = [(T0 + 20 + i, {"r0.lkg": "sha256:new", "target.local": "sha256:new"}) for i in range(5)]
    assert c.check_convergence(ok, "sha256:new", T0 + 20, 60) == ([], 0.0)
    lost = [(t, dict(s, **{"target.dataplane": "sha256:old"})) for t, s in ok]
    bad, took = c.check_convergence(lost, "sha256:new", T0 + 20, 60)
    assert took is None and "change was lost" in bad[0] and "target.dataplane" in bad[0], bad
    # every replica agrees, but on something else than a fresh render of the final state
    bad, _ = c.check_convergence(ok, "sha256:fresh", T0 + 20, 60)
    assert bad and "change was lost" in bad[0], bad
    # converged, then diverged again: the last samples decide
    flap = ok + [(T0 + 30, {"r0.lkg": "sha256:new", "target.local": "sha256:old"})]
    assert c.check_convergence(flap, "sha256:new", T0 + 20, 60)[0] != []
    # converged, but later than the bound
    bad, took = c.check_convergence([(T0 + 90, {"r0.lkg": "sha256:new"})], "sha256:new", T0 + 20, 60)
    assert took == 70.0 and "above the bound" in bad[0], bad
    assert "fresh replica" in c.check_convergence(ok, None, T0 + 20, 60)[0][0]
    assert c.check_convergence([], "sha256:new", T0 + 20, 60)[0] != []


def test_a_process_left_behind_fails(tmp):
    assert c.check_left_behind([]) == []
    bad = c.check_left_behind([{"pid": 123, "argv": ["htic-deployer", "--parent", "99"], "why": "deployer of dead "
                                                                                               "supervisor 99"}])
    assert len(bad) == 1 and "pid 123" in bad[0] and "dead supervisor" in bad[0], bad
    run = clean_run()
    run["left_behind"] = [{"pid": 5, "argv": ["x"], "why": "alive after the soak stopped"}]
    assert len(c.check(run)[0]) == 1


def test_audit_readers_keep_side_effects_only(tmp):
    audit = [{"time_ms": 1000, "term": "a#0", "target": "local", "action": "push", "result": "ok"},
             {"time_ms": 1001, "term": "a#0", "target": "local", "action": "push", "result": "failed"},
             {"time_ms": 1002, "term": "a#0", "target": "local", "action": "reload", "result": "sent"},
             {"time_ms": 1003, "term": "a#0", "target": "local", "action": "drift", "result": "repair"}]
    got = c.effects_from_deploy_audit(audit, "r0")
    assert [e["what"] for e in got] == ["local push ok", "local reload sent"] and got[0]["after_act"], got
    j = c.effects_from_journal([{"wall_ms": 2500, "term": "a#0", "action": "probe"}], "r0")
    assert j[0]["t"] == 2.5 and not j[0]["after_act"]
    d = c.effects_from_dpsim_audit([{"time": iso(T0), "term": "a#0", "method": "POST", "endpoint": "/raw",
                                     "result": 202}])
    assert d[0]["t"] == T0 and d[0]["term"] == "a#0"
    assert c.client_identity(UA.format("chaos-r1")) == "chaos-r1" and c.client_identity("curl/8") is None


if __name__ == "__main__":
    h.run([test_a_clean_run_passes_and_is_summarised, test_overlapping_terms_fail,
           test_a_side_effect_after_its_fence_fails, test_an_unstamped_side_effect_fails,
           test_a_lease_written_by_a_non_holder_fails, test_clock_offset_windows_shift_the_simulator_back,
           test_no_leader_too_long_after_the_faults_fails, test_a_lost_or_late_change_fails,
           test_a_process_left_behind_fails, test_audit_readers_keep_side_effects_only])
