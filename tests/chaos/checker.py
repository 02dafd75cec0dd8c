"""The chaos soak's verdict: pure functions over the logs a soak collected (the simulator's write audit, the
deployers' audit files and side-effect journals, the Data Plane API stand-in's audit, the soak's own fault
and convergence records). Each rule returns a list of violations (strings); an empty list is a pass. Unit
tests feed synthetic logs (test_checker.py), so every rule is proven able to fail.

Not for: running anything. soak.py collects the logs and calls check(); this module only reads values.

Time: every record is turned into wall-clock seconds of this machine (every process here shares it). The
simulator's timestamps carry the clock offset the injector set, so its audit is shifted back by the offset
that was active (offset windows recorded by the soak)."""
import datetime
import re

# A side effect audited after it finished (a push line is written when the push ends) may carry a time a
# little past the moment it was allowed to start; each of its writes is bounded by the fence's time left, so
# the end is at most one bounded write later. 0.3 s is well above a loopback write and well below the
# 0.5 s margin between renew_deadline and lease_duration that the soak's timings leave.
AUDIT_AFTER_ACT_SLACK_S = 0.3
# The simulator stamps a write when it handles it; clocks here are one clock, so only rounding (microseconds
# in the audit, milliseconds in ours) and an offset switch landing between two writes remain.
CLOCK_SLACK_S = 0.05
# A follower counts lease_duration from when it *observed* the last change (watch event or poll), which is
# after the write; the time to deliver a watch event or answer a poll on a loaded 2-core machine.
OBSERVE_SLACK_S = 0.5

# Actions of the deploy audit that are not side effects on a target: results of something that did not
# happen, or reports of what was read.
NOT_SIDE_EFFECT_RESULTS = {"failed", "impossible", "conflict", "unconfirmed", "refused"}
NOT_SIDE_EFFECT_ACTIONS = {"drift", "compare"}

IDENTITY_IN_UA = re.compile(r"\(([^()]*)\)\s*$")


def parse_time(text):
    """RFC 3339 with microseconds (the simulator's and the stand-in's) to epoch seconds."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def unshift(stamps, offsets):
    """Simulator timestamps (in the simulator's order of writes) back on this machine's clock. offsets is
    [(t0, t1, offset_ms)] in real time. A stamp read as unshifted must lie outside every window (inside one it
    would have been shifted); read as shifted by a window's offset it must land inside that window. Both can
    hold (a stamp 41 s before a -41 s window), so the order decides: the earliest reading not before the
    previous write's."""
    out, prev = [], float("-inf")
    for t in stamps:
        cands = [t - off / 1000.0 for t0, t1, off in offsets
                 if t0 - CLOCK_SLACK_S <= t - off / 1000.0 <= t1 + CLOCK_SLACK_S]
        if not any(t0 + CLOCK_SLACK_S < t < t1 - CLOCK_SLACK_S for t0, t1, _ in offsets):
            cands.append(t)
        after = [x for x in cands if x >= prev - CLOCK_SLACK_S]
        real = min(after) if after else (min(cands) if cands else t)
        out.append(real)
        prev = max(prev, real)
    return out


def client_identity(client):
    """The elector's User-Agent ends in '(identity)'; anything else has no identity."""
    m = IDENTITY_IN_UA.search(client or "")
    return m.group(1) if m else None


def lease_writes(sim_audit, offsets=(), lease_name="lease"):
    """The simulator's audit reduced to the Lease's writes, in the order the simulator applied them: dicts
    t, writer (identity from the client), verb, holder, transitions, duration_s."""
    out = []
    real = unshift([parse_time(a["time"]) for a in sim_audit], offsets)
    for a, t in zip(sim_audit, real):
        if a.get("resource") != "leases" or a.get("name") != lease_name:
            continue
        spec = (a.get("object") or {}).get("spec") or {}
        out.append({"t": t, "writer": client_identity(a.get("client")),
                    "client": a.get("client"), "verb": a.get("verb"), "holder": spec.get("holderIdentity") or "",
                    "transitions": spec.get("leaseTransitions") or 0,
                    "duration_s": spec.get("leaseDurationSeconds") or 0})
    return out


def term_of(holder, transitions):
    return f"{holder}#{transitions}"


def effects_from_deploy_audit(entries, replica):
    """Deploy audit lines (workers/deployer/audit.c) that were side effects on a target."""
    out = []
    for e in entries:
        if e.get("result") in NOT_SIDE_EFFECT_RESULTS or e.get("action") in NOT_SIDE_EFFECT_ACTIONS:
            continue
        out.append({"t": e["time_ms"] / 1000.0, "term": e.get("term", ""), "source": f"{replica}:audit",
                    "what": f"{e.get('target')} {e.get('action')} {e.get('result')}", "after_act": True})
    return out


def effects_from_journal(entries, replica):
    """The deployer's side-effect journal: written at the moment of acting, after the fence check."""
    return [{"t": e["wall_ms"] / 1000.0, "term": e.get("term", ""), "source": f"{replica}:journal",
             "what": e.get("action", ""), "after_act": False} for e in entries]


def effects_from_dpsim_audit(entries):
    """The stand-in's audit: every write request that reached a handler, stamped when it arrived."""
    return [{"t": parse_time(e["time"]), "term": e.get("term") or "", "source": "dataplane-sim",
             "what": f"{e.get('method')} {e.get('endpoint')} {e.get('result')}", "after_act": False}
            for e in entries]


def check_one_term_at_a_time(effects):
    """Rule: the spans [first, last side effect] of two terms never overlap."""
    spans = {}
    for e in effects:
        lo, hi = spans.get(e["term"], (e["t"], e["t"]))
        spans[e["term"]] = (min(lo, e["t"]), max(hi, e["t"]))
    bad = []
    ordered = sorted(spans.items(), key=lambda kv: kv[1][0])
    for i, (a, (alo, ahi)) in enumerate(ordered):
        for b, (blo, bhi) in ordered[i + 1:]:
            if blo >= ahi:
                break
            bad.append(f"terms overlap: {a!r} pushed in [{alo:.3f}, {ahi:.3f}] and {b!r} in [{blo:.3f}, {bhi:.3f}]")
    return bad


def check_unstamped(effects):
    """Rule: every side effect carries a term (invariant 5): one without is a deployer acting unfenced."""
    return [f"side effect without a term at {e['t']:.3f} ({e['source']}: {e['what']})" for e in effects
            if not e["term"]]


def renewals_by_term(writes):
    """{term: [times of the Lease writes that term's holder made as holder]}: its acquisition and renewals."""
    out = {}
    for w in writes:
        if w["holder"] and w["writer"] == w["holder"]:
            out.setdefault(term_of(w["holder"], w["transitions"]), []).append(w["t"])
    return out


def check_fences(effects, writes, renew_deadline_s):
    """Rule: no side effect after its term's fence. The fence is the send time of the term's last successful
    renewal plus renew_deadline; the simulator received that write after it was sent, so its stamp plus
    renew_deadline is a fence no earlier than the real one."""
    renewals = renewals_by_term(writes)
    bad = []
    for e in effects:
        if not e["term"]:
            continue
        times = renewals.get(e["term"])
        if not times:
            bad.append(f"side effect of term {e['term']!r} at {e['t']:.3f} ({e['source']}: {e['what']}), a term "
                       "no Lease write ever granted")
            continue
        # the fence that allowed this effect: the last renewal before it
        before = [t for t in times if t <= e["t"] + CLOCK_SLACK_S]
        if not before:
            bad.append(f"side effect of term {e['term']!r} at {e['t']:.3f} before the term was acquired "
                       f"({times[0]:.3f})")
            continue
        fence = before[-1] + renew_deadline_s
        slack = CLOCK_SLACK_S + (AUDIT_AFTER_ACT_SLACK_S if e["after_act"] else 0)
        if e["t"] > fence + slack:
            bad.append(f"side effect of term {e['term']!r} at {e['t']:.3f} ({e['source']}: {e['what']}) "
                       f"{e['t'] - fence:.3f}s after its fence (last renewal {before[-1]:.3f})")
    return bad


def check_lease_writers(writes):
    """Rule: only the holder writes a held Lease. A write by X while Y held it and Y's record had not been
    unchanged for its leaseDurationSeconds is a second leader; so is a write naming someone else holder."""
    bad = []
    prev = None
    for w in writes:
        if w["writer"] is None:
            bad.append(f"Lease written at {w['t']:.3f} by a client that is no elector: {w['client']!r}")
        elif w["holder"] not in ("", w["writer"]):
            bad.append(f"Lease written at {w['t']:.3f} by {w['writer']!r} naming {w['holder']!r} holder")
        elif prev is not None and prev["holder"] and prev["holder"] != w["writer"]:
            expires = prev["t"] + prev["duration_s"]
            if w["t"] < expires - CLOCK_SLACK_S:
                bad.append(f"Lease written at {w['t']:.3f} by {w['writer']!r} while {prev['holder']!r} held it "
                           f"until {expires:.3f} ({expires - w['t']:.3f}s left)")
        prev = w
    return bad


def reigns(writes):
    """[(holder, first write, last write)]: consecutive writes keeping one holder are one reign; a release
    (empty holder) ends it."""
    out = []
    prev = None
    for w in writes:
        if w["holder"]:
            # the same term again after its record expired unrenewed (the holder came back before anyone
            # took over: client-go keeps the transitions) is a new reign too
            lapsed = prev is not None and w["t"] - prev["t"] > prev["duration_s"] + CLOCK_SLACK_S
            if out and prev is not None and prev["holder"] and out[-1][0] == w["holder"] and \
                    out[-1][3] == w["transitions"] and not lapsed:
                out[-1][2] = w["t"]
            else:
                out.append([w["holder"], w["t"], w["t"], w["transitions"]])
        prev = w
    return [(h, a, b) for h, a, b, _ in out]


def leaderless_gaps(writes, t_end):
    """[(from, to)]: from a reign's last write to the next reign's first write (the next term acquiring), and
    from the last write to t_end when the last reign's record expired before t_end."""
    gaps = []
    rs = reigns(writes)
    for (_, _, last), (_, first, _) in zip(rs, rs[1:]):
        gaps.append((last, first))
    if rs:
        last = [w for w in writes if w["t"] >= rs[-1][2]]
        dur = max([w["duration_s"] for w in last] or [0])
        if not last[-1]["holder"] or rs[-1][2] + dur < t_end:
            gaps.append((rs[-1][2], t_end))
    return gaps


def check_leader_after_faults(writes, t_stop, t_end, lease_duration_s, retry_period_s):
    """Rule: once the faults stop, never longer than lease_duration + retry_period without a leader (plus
    the time a follower needs to observe the last write). A gap that began under faults counts from t_stop.
    Returns (violations, longest gap after t_stop)."""
    bound = lease_duration_s + retry_period_s + OBSERVE_SLACK_S
    bad, longest = [], 0.0
    if not reigns(writes):
        return [f"no leader at all up to {t_end:.3f}"], t_end - t_stop
    for lo, hi in leaderless_gaps(writes, t_end):
        if hi <= t_stop:
            continue
        gap = hi - max(lo, t_stop)
        longest = max(longest, gap)
        if gap > bound:
            bad.append(f"no leader from {max(lo, t_stop):.3f} to {hi:.3f} ({gap:.3f}s > {bound:.3f}s) after the "
                       "faults stopped")
    return bad, longest


def time_without_leader(writes, t_start, t_end):
    """Seconds in [t_start, t_end] inside leaderless gaps (gaps measured from a reign's last write)."""
    total = 0.0
    for lo, hi in leaderless_gaps(writes, t_end):
        lo, hi = max(lo, t_start), min(hi, t_end)
        if hi > lo:
            total += hi - lo
    return total


def check_convergence(samples, fresh, t_stop, bound_s):
    """Rule: no change lost. samples: [(t, {source: checksum or None})] taken after the faults stopped (every
    replica's LKG and what every target runs); fresh: the checksum a replica started after the end renders
    from the simulator's final state. Passing: from some sample at most bound_s after t_stop on, every source
    equals fresh in every later sample. Returns (violations, convergence seconds or None)."""
    if not fresh:
        return ["the fresh replica produced no LKG: nothing to compare the final state with"], None
    if not samples:
        return ["no convergence sample after the faults stopped"], None
    converged_at = None
    for t, srcs in samples:
        ok = bool(srcs) and all(v == fresh for v in srcs.values())
        if ok and converged_at is None:
            converged_at = t
        elif not ok:
            converged_at = None
    if converged_at is None:
        t, srcs = samples[-1]
        off = {k: v for k, v in srcs.items() if v != fresh}
        return [f"a change was lost: {len(off)} source(s) do not run the fresh render {fresh} at the end: {off}"], None
    took = converged_at - t_stop
    if took > bound_s:
        return [f"converged {took:.3f}s after the faults stopped, above the bound of {bound_s}s"], took
    return [], took


def check_left_behind(processes):
    """Rule: no process outlives the soak or its supervisor. processes: [{pid, argv, why}] found by the
    soak (a child naming a dead supervisor as --parent, anything under the soak's directory at the end)."""
    return [f"process left behind: pid {p['pid']} ({p['why']}): {' '.join(p['argv'])[:200]}" for p in processes]


def check(run):
    """All rules over one run record (soak.py builds it). Returns (violations, summary dict)."""
    p = run["params"]
    writes = lease_writes(run["sim_audit"], run.get("offsets", ()), p.get("lease_name", "lease"))
    effects = list(run["effects"])
    bad = []
    bad += check_unstamped(effects)
    bad += check_one_term_at_a_time([e for e in effects if e["term"]])
    bad += check_fences(effects, writes, p["renew_deadline_s"])
    bad += check_lease_writers(writes)
    gaps, longest = check_leader_after_faults(writes, run["t_stop"], run["t_end"], p["lease_duration_s"],
                                              p["retry_period_s"])
    bad += gaps
    conv, took = check_convergence(run["samples"], run.get("fresh"), run["t_stop"], p["convergence_bound_s"])
    bad += conv
    bad += check_left_behind(run.get("left_behind", []))
    kinds = {}
    for f in run.get("faults", []):
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    summary = {
        "seed": p.get("seed"),
        "faults": sum(kinds.values()),
        "faults_by_kind": dict(sorted(kinds.items())),
        "leadership_changes": max(0, len(reigns(writes)) - 1),
        "terms": len({e["term"] for e in effects if e["term"]}),
        "pushes": sum(1 for e in effects if " push ok" in e["what"]),
        "target_writes": len(effects),
        "time_without_leader_s": round(time_without_leader(writes, run["t_start"], run["t_end"]), 3),
        "longest_leaderless_after_faults_s": round(longest, 3),
        "convergence_s": None if took is None else round(took, 3),
        "violations": len(bad),
    }
    return bad, summary


def format_summary(summary, violations):
    lines = [f"chaos soak seed={summary['seed']}: {'FAILED' if violations else 'passed'}",
             f"  faults injected: {summary['faults']}  " +
             " ".join(f"{k}={v}" for k, v in summary["faults_by_kind"].items()),
             f"  leadership changes: {summary['leadership_changes']}  terms that pushed: {summary['terms']}",
             f"  pushes (push ok): {summary['pushes']}  side effects on targets: {summary['target_writes']}",
             f"  time without a leader: {summary['time_without_leader_s']}s "
             f"(longest after faults stopped: {summary['longest_leaderless_after_faults_s']}s)",
             f"  convergence after faults stopped: {summary['convergence_s']}s"]
    for v in violations[:50]:
        lines.append("  VIOLATION: " + v)
    if len(violations) > 50:
        lines.append(f"  ... and {len(violations) - 50} more")
    if violations:
        lines.append(f"  reproduce with: --seed {summary['seed']}")
    return "\n".join(lines)
