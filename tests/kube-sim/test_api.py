#!/usr/bin/python3
"""kube-sim API rules over raw HTTP: discovery, Status bodies, create/update/patch/delete semantics (Lease
rules, conflicts, no-op writes), selectors, paging, watches (resume, DELETED revision, bookmarks, 410,
sendInitialEvents, selector transitions, timeoutSeconds), seeding, audit log and fault injection. TAP."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubesim import KubeSim, Tap  # noqa: E402

LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
CMS = "/api/v1/namespaces/default/configmaps"
T = "2025-03-01T10:00:00.123456Z"


def lease(name, holder="a", **spec):
    s = {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": T}
    s.update(spec)
    return {"metadata": {"name": name}, "spec": s}


def check_discovery(sim):
    st, _, v = sim.request("GET", "/version")
    assert st == 200 and v["major"] == "1" and v["minor"] == "32", v
    st, _, apis = sim.request("GET", "/apis")
    names = {g["name"] for g in apis["groups"]}
    assert {"coordination.k8s.io", "networking.k8s.io", "discovery.k8s.io"} <= names, names
    st, _, rl = sim.request("GET", "/api/v1")
    res = {r["name"] for r in rl["resources"]}
    assert {"namespaces", "pods", "services", "endpoints", "secrets", "configmaps"} <= res, res
    st, _, rl = sim.request("GET", "/apis/networking.k8s.io/v1")
    assert {r["name"] for r in rl["resources"]} >= {"ingresses", "ingresses/status", "ingressclasses"}
    st, _, ns = sim.request("GET", "/api/v1/namespaces/default")
    assert st == 200 and ns["status"]["phase"] == "Active", ns
    st, _, body = sim.request("GET", "/apis/nope.example/v1")
    assert st == 404 and body["reason"] == "NotFound" and body["code"] == 404, body
    st, _, body = sim.request("GET", "/healthz")
    assert st == 200 and body == "ok"


def check_create_get_conflicts(sim):
    st, _, o = sim.request("POST", LEASES, lease("l1"))
    assert st == 201, (st, o)
    assert o["kind"] == "Lease" and o["apiVersion"] == "coordination.k8s.io/v1"
    m = o["metadata"]
    assert m["uid"] and m["creationTimestamp"].endswith("Z") and "generation" not in m, m
    st, _, dup = sim.request("POST", LEASES, lease("l1"))
    assert st == 409 and dup["reason"] == "AlreadyExists" and dup["details"] == {
        "name": "l1", "group": "coordination.k8s.io", "kind": "leases"}, dup
    assert dup["message"] == 'leases.coordination.k8s.io "l1" already exists'
    st, _, nf = sim.request("GET", LEASES + "/nope")
    assert st == 404 and nf["message"] == 'leases.coordination.k8s.io "nope" not found', nf
    # PUT without resourceVersion: 422 for leases
    st, _, e = sim.request("PUT", LEASES + "/l1", lease("l1"))
    assert st == 422 and e["reason"] == "Invalid" and "must be specified for an update" in e["message"], e
    # stale resourceVersion: 409 Conflict
    body = lease("l1", holder="b")
    body["metadata"]["resourceVersion"] = "1"
    st, _, e = sim.request("PUT", LEASES + "/l1", body)
    assert st == 409 and e["reason"] == "Conflict" and "the object has been modified" in e["message"], e
    # a good update bumps the resourceVersion
    body["metadata"]["resourceVersion"] = m["resourceVersion"]
    st, _, o2 = sim.request("PUT", LEASES + "/l1", body)
    assert st == 200 and o2["spec"]["holderIdentity"] == "b", o2
    assert int(o2["metadata"]["resourceVersion"]) > int(m["resourceVersion"])
    assert o2["metadata"]["uid"] == m["uid"] and o2["metadata"]["creationTimestamp"] == m["creationTimestamp"]
    # identical PUT keeps the resourceVersion
    st, _, o3 = sim.request("PUT", LEASES + "/l1", o2)
    assert st == 200 and o3["metadata"]["resourceVersion"] == o2["metadata"]["resourceVersion"], (o2, o3)
    # POST with resourceVersion: 500
    b = lease("l9")
    b["metadata"]["resourceVersion"] = "5"
    st, _, e = sim.request("POST", LEASES, b)
    assert st == 500 and "resourceVersion should not be set" in e["message"], e


def check_lease_rules(sim):
    for bad in ["2025-03-01T10:00:00Z", "2025-03-01T10:00:00.123Z", "2025-03-01T10:00:00.123456789Z"]:
        st, _, e = sim.request("POST", LEASES, lease("lt", renewTime=bad))
        assert st == 400 and e["reason"] == "BadRequest" and "cannot parse" in e["message"], (bad, e)
    st, _, o = sim.request("POST", LEASES, lease("lt", acquireTime="2025-03-01T12:00:00.000100+02:00"))
    assert st == 201 and o["spec"]["acquireTime"] == "2025-03-01T10:00:00.000100Z", o
    st, _, e = sim.request("POST", LEASES, lease("lz", leaseDurationSeconds=0))
    assert st == 422 and e["details"]["causes"][0]["field"] == "spec.leaseDurationSeconds", e
    assert e["message"] == ('Lease.coordination.k8s.io "lz" is invalid: spec.leaseDurationSeconds: '
                            'Invalid value: 0: must be greater than 0'), e["message"]
    st, _, e = sim.request("POST", LEASES, lease("lz", leaseDurationSeconds="15"))
    assert st == 400, e
    st, _, e = sim.request("POST", LEASES, lease("Bad_Name"))
    assert st == 422 and e["details"]["causes"][0]["field"] == "metadata.name", e
    # null means unset and is omitted
    st, _, o = sim.request("POST", LEASES, lease("nul", renewTime=None, acquireTime=None))
    assert st == 201 and "renewTime" not in o["spec"] and "acquireTime" not in o["spec"], o
    # unknown fields: Strict refuses, the default drops them with a Warning header
    b = lease("unk")
    b["spec"]["holder"] = "typo"
    st, _, e = sim.request("POST", LEASES + "?fieldValidation=Strict", b)
    assert st == 400 and 'strict decoding error: unknown field "spec.holder"' in e["message"], e
    st, h, o = sim.request("POST", LEASES, b)
    assert st == 201 and "holder" not in o["spec"], (st, o)
    assert h.get("warning") == r'299 - "unknown field \"spec.holder\""', h.get("warning")
    st, h, o = sim.request("GET", LEASES + "/unk")
    assert "warning" not in h, h
    # create on update (no uid) -> 201; uid precondition on a deleted lease -> 409
    st, _, o = sim.request("PUT", LEASES + "/cou", lease("cou"))
    assert st == 201, o
    uid = o["metadata"]["uid"]
    st, _, d = sim.request("DELETE", LEASES + "/cou")
    assert st == 200 and d["status"] == "Success" and d["details"]["uid"] == uid, d
    b = lease("cou")
    b["metadata"].update({"uid": uid, "resourceVersion": o["metadata"]["resourceVersion"]})
    st, _, e = sim.request("PUT", LEASES + "/cou", b)
    assert st == 409 and "Precondition failed: UID in precondition" in e["message"], e
    # configmaps do not create on update
    st, _, e = sim.request("PUT", CMS + "/gone", {"metadata": {"name": "gone"}})
    assert st == 404, e
    # name and namespace mismatches
    st, _, e = sim.request("PUT", LEASES + "/other", lease("l1"))
    assert st == 400 and "does not match the name on the URL" in e["message"], e
    b = lease("nsx")
    b["metadata"]["namespace"] = "kube-system"
    st, _, e = sim.request("POST", LEASES, b)
    assert st == 400 and "namespace of the provided object" in e["message"], e
    # namespace missing -> 404
    st, _, e = sim.request("POST", "/apis/coordination.k8s.io/v1/namespaces/nowhere/leases", lease("x"))
    assert st == 404 and e["message"] == 'namespaces "nowhere" not found', e


def check_patch(sim):
    st, _, o = sim.request("POST", CMS, {"metadata": {"name": "p1", "labels": {"a": "1", "b": "2"}},
                                         "data": {"k": "v", "gone": "x"}})
    assert st == 201, o
    st, _, o = sim.request("PATCH", CMS + "/p1", '{"metadata":{"labels":{"b":null}},"data":{"gone":null,"n":"1"}}',
                           headers={"Content-Type": "application/merge-patch+json"})
    assert st == 200 and o["metadata"]["labels"] == {"a": "1"} and o["data"] == {"k": "v", "n": "1"}, o
    st, _, o = sim.request("PATCH", CMS + "/p1",
                           '{"data":{"z":"2"},"$setElementOrder/x":[],"metadata":{"$retainKeys":["a"]}}',
                           headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert st == 200 and o["data"]["z"] == "2", o
    st, _, o = sim.request("PATCH", CMS + "/p1", '[{"op":"replace","path":"/data/k","value":"w"},'
                           '{"op":"add","path":"/data/q","value":"3"},{"op":"remove","path":"/data/z"}]',
                           headers={"Content-Type": "application/json-patch+json"})
    assert st == 200 and o["data"] == {"k": "w", "n": "1", "q": "3"}, o
    st, _, e = sim.request("PATCH", CMS + "/p1", '{}', headers={"Content-Type": "application/apply-patch+yaml"})
    assert st == 415 and e["reason"] == "UnsupportedMediaType", e
    st, _, e = sim.request("PATCH", CMS + "/none", '{}', headers={"Content-Type": "application/merge-patch+json"})
    assert st == 404, e
    # strategic lists of named objects merge by name
    pod = {"metadata": {"name": "pod1"}, "spec": {"containers": [{"name": "a", "image": "x:1", "args": ["1"]},
                                                                 {"name": "b", "image": "y:1"}]}}
    st, _, o = sim.request("POST", "/api/v1/namespaces/default/pods", pod)
    assert st == 201, o
    st, _, o = sim.request("PATCH", "/api/v1/namespaces/default/pods/pod1",
                           '{"spec":{"containers":[{"name":"a","image":"x:2"}]}}',
                           headers={"Content-Type": "application/strategic-merge-patch+json"})
    c = {x["name"]: x for x in o["spec"]["containers"]}
    assert c["a"]["image"] == "x:2" and c["a"]["args"] == ["1"] and c["b"]["image"] == "y:1", o


def check_generation_and_status(sim):
    ing = "/apis/networking.k8s.io/v1/namespaces/default/ingresses"
    body = {"metadata": {"name": "i1"}, "spec": {"ingressClassName": "haproxy", "rules": [{"host": "a.example"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}}}
    st, _, o = sim.request("POST", ing, body)
    assert st == 201 and o["metadata"]["generation"] == 1 and "status" not in o, o
    o["spec"]["rules"][0]["host"] = "b.example"
    st, _, o = sim.request("PUT", ing + "/i1", o)
    assert st == 200 and o["metadata"]["generation"] == 2, o
    o["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}
    st, _, o2 = sim.request("PUT", ing + "/i1", o)
    assert "status" not in o2 or o2["status"] != o["status"], o2  # main resource ignores status
    st, _, o3 = sim.request("PUT", ing + "/i1/status", o)
    assert st == 200 and o3["status"]["loadBalancer"]["ingress"][0]["ip"] == "10.0.0.1", o3
    assert o3["metadata"]["generation"] == 2, o3


def check_selectors_and_paging(sim):
    for i in range(7):
        labels = {"app": "web" if i % 2 else "db", "idx": str(i)}
        if i < 3:
            labels["tier"] = "front"
        st, _, _ = sim.request("POST", CMS, {"metadata": {"name": "sel-%d" % i, "labels": labels}})
        assert st == 201

    def names(q):
        st, _, l = sim.request("GET", CMS + "?" + q)
        assert st == 200, l
        return sorted(i["metadata"]["name"] for i in l["items"] if i["metadata"]["name"].startswith("sel-"))

    assert names("labelSelector=app%3Dweb") == ["sel-1", "sel-3", "sel-5"]
    assert names("labelSelector=app%3D%3Dweb,tier") == ["sel-1"]
    assert names("labelSelector=app!%3Dweb,idx") == ["sel-0", "sel-2", "sel-4", "sel-6"]
    assert names("labelSelector=idx+in+(1,2,9)") == ["sel-1", "sel-2"]
    assert names("labelSelector=idx,idx+notin+(1,2)") == ["sel-0", "sel-3", "sel-4", "sel-5", "sel-6"]
    assert names("labelSelector=idx,!tier") == ["sel-3", "sel-4", "sel-5", "sel-6"]
    assert names("labelSelector=idx>4") == ["sel-5", "sel-6"]
    assert names("fieldSelector=metadata.name%3Dsel-4") == ["sel-4"]
    assert names("fieldSelector=metadata.name!%3Dsel-4,metadata.namespace%3Ddefault&labelSelector=app%3Ddb") == \
        ["sel-0", "sel-2", "sel-6"]
    st, _, e = sim.request("GET", CMS + "?fieldSelector=spec.holder%3Dx")
    assert st == 400 and '"spec.holder" is not a known field selector' in e["message"], e
    st, _, e = sim.request("GET", CMS + "?labelSelector=a+in+b")
    assert st == 400, e
    # paging: limit/continue from one snapshot
    st, _, p1 = sim.request("GET", CMS + "?limit=3&labelSelector=idx")
    assert len(p1["items"]) == 3 and p1["metadata"].get("continue"), p1["metadata"]
    rv = p1["metadata"]["resourceVersion"]
    sim.request("DELETE", CMS + "/sel-6")  # a change after the first page is not seen by later pages
    got = [i["metadata"]["name"] for i in p1["items"]]
    cont = p1["metadata"]["continue"]
    while cont:
        st, _, p = sim.request("GET", CMS + "?limit=3&labelSelector=idx&continue=" + cont)
        assert st == 200 and p["metadata"]["resourceVersion"] == rv, p
        got += [i["metadata"]["name"] for i in p["items"]]
        cont = p["metadata"].get("continue")
    assert got == ["sel-%d" % i for i in range(7)], got
    st, _, p = sim.request("GET", CMS + "?limit=2")
    assert p["metadata"]["remainingItemCount"] >= 1, p["metadata"]
    st, _, e = sim.request("GET", CMS + "?limit=2&continue=!!bad")
    assert st == 400 and "invalid continue token" in e["message"], e
    st, _, e = sim.request("GET", CMS + "?limit=2&continue=%s&resourceVersion=5" % p["metadata"]["continue"])
    assert st == 400 and "specifying resource version is not allowed" in e["message"], e
    # exact list at an older revision
    st, _, ex = sim.request("GET", CMS + "?resourceVersion=%s&resourceVersionMatch=Exact&labelSelector=idx" % rv)
    assert st == 200 and len(ex["items"]) == 7 and ex["metadata"]["resourceVersion"] == rv, ex["metadata"]
    st, _, e = sim.request("GET", CMS + "?resourceVersionMatch=Exact")
    assert st == 422 and e["details"]["kind"] == "ListOptions", e
    st, _, e = sim.request("GET", CMS + "?resourceVersion=999999999&resourceVersionMatch=NotOlderThan")
    assert st == 504 and e["reason"] == "Timeout", e
    st, _, e = sim.request("GET", CMS + "?sendInitialEvents=true")
    assert st == 422, e
    # compaction: old continue tokens and exact lists are 410
    sim.compact()
    st, _, e = sim.request("GET", CMS + "?limit=3&labelSelector=idx&continue=" + p1["metadata"]["continue"])
    assert st == 410 and e["reason"] == "Expired" and e["metadata"].get("continue"), e
    st, _, e = sim.request("GET", CMS + "?resourceVersion=%s&resourceVersionMatch=Exact" % rv)
    assert st == 410 and e["reason"] == "Expired", e


def check_watch(sim):
    st, _, l = sim.request("GET", LEASES)
    rv = l["metadata"]["resourceVersion"]
    w = sim.watch(LEASES + "?watch=True&allowWatchBookmarks=True&resourceVersion=" + rv)
    assert w.status == 200 and "chunked" in w.headers.get("transfer-encoding", ""), w.headers
    st, _, o = sim.request("POST", LEASES, lease("w1"))
    ev = w.next_event()
    assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "w1", ev
    assert ev["object"]["kind"] == "Lease"
    body = ev["object"]
    body["spec"]["holderIdentity"] = "z"
    st, _, o2 = sim.request("PUT", LEASES + "/w1", body)
    ev = w.next_event()
    assert ev["type"] == "MODIFIED" and ev["object"]["spec"]["holderIdentity"] == "z", ev
    st, _, d = sim.request("DELETE", LEASES + "/w1")
    ev = w.next_event()
    assert ev["type"] == "DELETED" and int(ev["object"]["metadata"]["resourceVersion"]) > \
        int(o2["metadata"]["resourceVersion"]), ev
    del_rv = ev["object"]["metadata"]["resourceVersion"]
    w.close()
    # resume from the first event's revision replays the later ones
    w = sim.watch(LEASES + "?watch=1&resourceVersion=" + o["metadata"]["resourceVersion"])
    types = [w.next_event()["type"], w.next_event()["type"]]
    assert types == ["MODIFIED", "DELETED"], types
    w.close()
    # bookmarks
    w = sim.watch(LEASES + "?watch=1&allowWatchBookmarks=true&resourceVersion=" + del_rv)
    sim.bookmarks(200)  # applies to open watches too
    ev = w.next_event()
    assert ev["type"] == "BOOKMARK" and ev["object"]["metadata"]["resourceVersion"] and \
        ev["object"]["kind"] == "Lease", ev
    w.close()
    sim.bookmarks(60000)
    # with bookmarks, one arrives about 2 s before the timeout ends the stream
    t0 = time.monotonic()
    w = sim.watch(LEASES + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=5&resourceVersion=" + del_rv)
    ev = w.next_event()
    assert ev["type"] == "BOOKMARK" and 2.5 < time.monotonic() - t0 < 4.5, (ev, time.monotonic() - t0)
    assert w.next_event() is None and time.monotonic() - t0 < 7
    w.close()
    # timeoutSeconds ends the stream cleanly
    t0 = time.monotonic()
    w = sim.watch(LEASES + "?watch=1&timeoutSeconds=1&resourceVersion=" + del_rv)
    assert w.next_event() is None and 0.8 < time.monotonic() - t0 < 5
    w.close()
    # too old -> 200 with an ERROR 410 event
    sim.compact()
    w = sim.watch(LEASES + "?watch=1&resourceVersion=1")
    ev = w.next_event()
    assert w.status == 200 and ev["type"] == "ERROR" and ev["object"]["code"] == 410 and \
        ev["object"]["reason"] == "Expired" and "too old resource version" in ev["object"]["message"], ev
    assert w.next_event() is None
    w.close()
    # no resourceVersion: synthetic ADDED for what exists
    sim.request("POST", LEASES, lease("w2"))
    w = sim.watch(LEASES + "?watch=1&timeoutSeconds=2")
    names = []
    while True:
        ev = w.next_event()
        if ev is None:
            break
        names.append((ev["type"], ev["object"]["metadata"]["name"]))
    assert ("ADDED", "w2") in names, names
    w.close()
    # sendInitialEvents: ADDED, then the initial-events-end bookmark
    w = sim.watch(LEASES + "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
                  "&allowWatchBookmarks=true&resourceVersion=")
    while True:
        ev = w.next_event()
        if ev["type"] == "BOOKMARK":
            break
        assert ev["type"] == "ADDED", ev
    assert ev["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}, ev
    w.close()
    st, _, e = sim.request("GET", LEASES + "?watch=1&sendInitialEvents=true")
    assert st == 422 and e["reason"] == "Invalid", e
    # selector transitions: leaving the selection is DELETED, entering it ADDED
    st, _, c = sim.request("POST", CMS, {"metadata": {"name": "tr", "labels": {"x": "1"}}})
    w = sim.watch(CMS + "?watch=1&labelSelector=x%3D1&resourceVersion=" + c["metadata"]["resourceVersion"])
    c["metadata"]["labels"]["x"] = "2"
    st, _, c = sim.request("PUT", CMS + "/tr", c)
    ev = w.next_event()
    assert ev["type"] == "DELETED" and ev["object"]["metadata"]["name"] == "tr", ev
    c["metadata"]["labels"]["x"] = "1"
    st, _, c = sim.request("PUT", CMS + "/tr", c)
    ev = w.next_event()
    assert ev["type"] == "ADDED", ev
    w.close()
    # legacy /watch/ path with a name
    w = sim.watch("/api/v1/watch/namespaces/default/configmaps/tr?resourceVersion=" + c["metadata"]["resourceVersion"])
    sim.request("POST", CMS, {"metadata": {"name": "tr-other"}})
    c["data"] = {"a": "b"}
    sim.request("PUT", CMS + "/tr", c)
    ev = w.next_event()
    assert ev["type"] == "MODIFIED" and ev["object"]["metadata"]["name"] == "tr", ev
    w.close()
    # paused watches get nothing; resuming replays the missed events, or 410 when compacted meanwhile
    st, _, l = sim.request("GET", CMS)
    w = sim.watch(CMS + "?watch=1&resourceVersion=" + l["metadata"]["resourceVersion"], timeout=5)
    w2 = sim.watch(CMS + "?watch=1&resourceVersion=" + l["metadata"]["resourceVersion"], timeout=5)
    sim.pause_watches()
    sim.request("POST", CMS, {"metadata": {"name": "paused-1"}})
    sim.request("POST", CMS, {"metadata": {"name": "paused-2"}})
    import select
    readable, _, _ = select.select([w.conn.sock], [], [], 0.5)  # nothing buffered yet: the socket tells
    assert not readable, "event bytes arrived while paused"
    sim.pause_watches(False)
    got = [w.next_event()["object"]["metadata"]["name"], w.next_event()["object"]["metadata"]["name"]]
    assert got == ["paused-1", "paused-2"], got
    w.close()
    w2.close()
    w = sim.watch(CMS + "?watch=1&resourceVersion=" + l["metadata"]["resourceVersion"], timeout=5)
    sim.pause_watches()
    sim.request("POST", CMS, {"metadata": {"name": "paused-3"}})
    sim.compact()
    sim.pause_watches(False)
    evs = []
    while True:
        ev = w.next_event()
        if ev is None:
            break
        evs.append(ev)
    assert [e["type"] for e in evs][-1] == "ERROR" and evs[-1]["object"]["code"] == 410, evs
    w.close()


def check_faults(sim):
    sim.faults(errors={"count": 2, "code": 429, "retry_after": 3, "verb": "get"})
    st, h, body = sim.request("GET", LEASES)
    assert st == 429 and h.get("retry-after") == "3" and body.startswith("Too many requests"), (st, h, body)
    st, h, body = sim.request("POST", LEASES, lease("f-ok"))
    assert st == 201, body  # verb filter
    st, h, body = sim.request("GET", LEASES)
    assert st == 429
    st, h, body = sim.request("GET", LEASES)
    assert st == 200
    sim.faults(errors={"count": 1, "code": 503})
    st, h, body = sim.request("GET", LEASES)
    assert st == 503 and body["reason"] == "ServiceUnavailable" and body["code"] == 503, body
    sim.faults(errors={"count": 1, "code": 500, "retry_after": 2})
    st, h, body = sim.request("GET", LEASES)
    assert st == 500 and body["reason"] == "ServerTimeout" and h.get("retry-after") == "2" and \
        body["details"] == {"name": "get", "group": "coordination.k8s.io", "kind": "leases",
                            "retryAfterSeconds": 2}, body
    assert body["message"] == ("The get operation against leases.coordination.k8s.io could not be completed at "
                               "this time, please try again."), body
    # latency
    sim.faults(latency_ms=300)
    t0 = time.monotonic()
    st, _, _ = sim.request("GET", LEASES)
    assert st == 200 and time.monotonic() - t0 >= 0.28
    sim.faults(latency_ms=300, latency_verb="update")
    t0 = time.monotonic()
    st, _, _ = sim.request("GET", LEASES)
    assert st == 200 and time.monotonic() - t0 < 0.25  # only updates are slowed
    sim.faults(latency_ms=0, latency_verb="")
    # hang one client, others proceed
    sim.faults(hang_client="stuck-elector")
    try:
        sim.request("GET", LEASES, headers={"X-Sim-Client": "stuck-elector"}, timeout=0.5)
        raise AssertionError("hung client got an answer")
    except (socket.timeout, TimeoutError):
        pass
    st, _, _ = sim.request("GET", LEASES, headers={"User-Agent": "someone-else/1.0"})
    assert st == 200
    # refuse one client (connection closed without answer)
    sim.faults(hang_client="", refuse_client="refused-one")
    try:
        sim.request("GET", LEASES, headers={"User-Agent": "refused-one/1.0"}, timeout=2)
        raise AssertionError("refused client got an answer")
    except (ConnectionError, OSError, Exception) as e:  # RemoteDisconnected is a ConnectionError
        assert not isinstance(e, AssertionError), e
    sim.reset_faults()
    # refuse by source port
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    sim.faults(refuse_client="port:%d" % s.getsockname()[1])
    s.settimeout(5)
    s.connect(("127.0.0.1", sim.port))
    s.sendall(b"GET /api HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(100) == b"", "refused port got an answer"
    s.close()
    st, _, _ = sim.request("GET", "/api")
    assert st == 200
    sim.reset_faults()
    # clock offset shows in creationTimestamp
    sim.faults(clock_offset_ms=-86400 * 1000 * 365)
    st, _, o = sim.request("POST", LEASES, lease("clock"))
    year = int(o["metadata"]["creationTimestamp"][:4])
    sim.reset_faults()
    st, _, o2 = sim.request("POST", LEASES, lease("clock2"))
    assert int(o2["metadata"]["creationTimestamp"][:4]) - year == 1, (o, o2)
    # drop every watch: the stream ends without its final chunk
    w = sim.watch(LEASES + "?watch=1&resourceVersion=" + o2["metadata"]["resourceVersion"])
    time.sleep(0.1)
    assert sim.stats()["watches"] >= 1
    sim.drop_watches()
    try:
        ev = w.next_event()
        assert ev is None, ev
    except Exception as e:  # http.client reports the missing last chunk as IncompleteRead
        assert "IncompleteRead" in type(e).__name__ or isinstance(e, OSError), repr(e)
    w.close()


def check_audit(sim):
    sim.request("POST", LEASES, lease("aud", holder="pod-a"), headers={"X-Sim-Client": "elector-a"})
    entries = [e for e in sim.audit_entries() if e["name"] == "aud"]
    assert len(entries) == 1, entries
    e = entries[0]
    assert e["client"] == "elector-a" and e["verb"] == "create" and e["resource"] == "leases", e
    assert e["object"]["spec"]["holderIdentity"] == "pod-a" and e["resourceVersion"] and e["time"].endswith("Z")


def check_http_misc(sim):
    st, _, e = sim.request("POST", LEASES + "/x", lease("x"))
    assert st == 405 and e["reason"] == "MethodNotAllowed", e
    st, _, e = sim.request("GET", LEASES, headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert st == 406, e
    st, _, e = sim.request("POST", LEASES, "\x00\x01", headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert st == 415, e
    st, _, e = sim.request("POST", LEASES, "{not json", headers={"Content-Type": "application/json"})
    assert st == 400 and e["reason"] == "BadRequest", e
    # generateName
    st, _, o = sim.request("POST", CMS, {"metadata": {"generateName": "gen-"}})
    assert st == 201 and o["metadata"]["name"].startswith("gen-") and len(o["metadata"]["name"]) == 9, o
    # deletecollection
    st, _, l = sim.request("DELETE", CMS + "?labelSelector=idx")
    assert st == 200 and l["kind"] == "ConfigMapList", l
    st, _, l = sim.request("GET", CMS + "?labelSelector=idx")
    assert l["items"] == [], l
    # namespace create and delete takes its contents along
    st, _, ns = sim.request("POST", "/api/v1/namespaces", {"metadata": {"name": "tmp-ns"}})
    assert st == 201 and ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "tmp-ns", ns
    st, _, _ = sim.request("POST", "/api/v1/namespaces/tmp-ns/secrets", {"metadata": {"name": "s"}, "type": "Opaque"})
    assert st == 201
    st, _, l = sim.request("GET", "/api/v1/secrets?fieldSelector=type%3DOpaque")
    assert [i["metadata"]["name"] for i in l["items"]] == ["s"], l
    st, _, _ = sim.request("DELETE", "/api/v1/namespaces/tmp-ns")
    st, _, l = sim.request("GET", "/api/v1/namespaces/tmp-ns/secrets")
    assert st == 200 and l["items"] == [], l


def check_seed_and_tls_auth(tap):
    seed = """
apiVersion: v1
kind: ConfigMap
metadata: {name: seeded, namespace: team-a, labels: {app: x}}
data: {k: v}
---
apiVersion: v1
kind: List
items:
- apiVersion: networking.k8s.io/v1
  kind: IngressClass
  metadata: {name: haproxy}
  spec: {controller: haproxy.org/ingress-controller}
- apiVersion: coordination.k8s.io/v1
  kind: Lease
  metadata: {name: seeded-lease, namespace: default}
  spec: {holderIdentity: "", leaseDurationSeconds: 15}
"""
    with KubeSim(tls=True, token_file_lines=["tok-admin,admin", "tok-ro,viewer,readonly"], seed_text=seed) as sim:
        def seeded():
            st, _, o = sim.request("GET", "/api/v1/namespaces/team-a/configmaps/seeded", token="tok-admin")
            assert st == 200 and o["data"] == {"k": "v"}, o
            st, _, o = sim.request("GET", "/apis/networking.k8s.io/v1/ingressclasses/haproxy", token="tok-admin")
            assert st == 200 and o["metadata"]["generation"] == 1, o
            st, _, o = sim.request("GET", "/api/v1/namespaces/team-a", token="tok-admin")
            assert st == 200, o
            assert sim.url.startswith("https://")
        tap.run("seed file with documents and a List, namespaces created, served over https", seeded)

        def auth():
            st, _, e = sim.request("GET", LEASES)
            assert st == 401 and e["reason"] == "Unauthorized" and e["code"] == 401, e
            st, _, e = sim.request("GET", LEASES, token="wrong")
            assert st == 401, e
            st, _, _ = sim.request("GET", LEASES, headers={"authorization": "bearer tok-admin"})
            assert st == 200  # lowercase header name and scheme
            st, _, e = sim.request("POST", LEASES, lease("ro"), token="tok-ro")
            assert st == 403 and e["reason"] == "Forbidden" and 'User "viewer" cannot create resource "leases"' in \
                e["message"], e
            sim.deny([{"verb": "update", "resource": "leases", "user": "admin"}])
            st, _, o = sim.request("POST", LEASES, lease("dn"), token="tok-admin")
            assert st == 201
            st, _, e = sim.request("PUT", LEASES + "/dn", o, token="tok-admin")
            assert st == 403 and e["message"].startswith('leases.coordination.k8s.io "dn" is forbidden'), e
            sim.deny([])
            # token rotation through the control endpoint
            sim.set_tokens([{"token": "tok-new", "user": "admin"}])
            st, _, _ = sim.request("GET", LEASES, token="tok-admin")
            assert st == 401
            st, _, _ = sim.request("GET", LEASES, token="tok-new")
            assert st == 200
            st, _, _ = sim.request("GET", "/healthz")
            assert st == 200
        tap.run("bearer tokens: 401 without or with a wrong token, 403 for readonly and deny rules, rotation", auth)

        def kubeconfig_has_ca_and_token():
            text = open(sim.kubeconfig).read()
            assert "certificate-authority: " in text and "token: tok-admin" in text and "https://" in text, text
        tap.run("kubeconfig written with CA and token", kubeconfig_has_ca_and_token)

        def client_certificate():
            sim.set_tokens([{"token": "tok-admin", "user": "admin"}])
            st, _, o = sim.request("POST", LEASES, lease("by-cert"), client_cert=True,
                                   headers={"X-Sim-Client": "cert-client"})
            assert st == 201, o
            e = [x for x in sim.audit_entries() if x["name"] == "by-cert"][0]
            assert e["user"] == "cert-user", e
            st, _, _ = sim.request("GET", LEASES)
            assert st == 401  # no certificate, no token
        tap.run("a client certificate signed by the generated CA authenticates as its CN", client_certificate)
        import shutil
        import tempfile
        keep = tempfile.mkdtemp(prefix="kube-sim-certs-")
        for f in ("ca.crt", "server.crt", "server.key"):
            shutil.copy(os.path.join(sim.dir, f), keep)
        rc = sim.stop()
        tap.eq(rc, 0, "https simulator stops cleanly on SIGTERM")
    try:
        args = ["--tls-cert", os.path.join(keep, "server.crt"), "--tls-key", os.path.join(keep, "server.key"),
                "--tls-ca", os.path.join(keep, "ca.crt")]
        with KubeSim(extra_args=args) as sim2:
            def given_files():
                assert sim2.url.startswith("https://") and sim2.ca_file == os.path.join(keep, "ca.crt"), sim2.info
                st, _, v = sim2.request("GET", "/version")
                assert st == 200 and v["minor"] == "32", v
            tap.run("https from certificate files given on the command line", given_files)
    finally:
        shutil.rmtree(keep, ignore_errors=True)


def check_bad_seed(tap):
    sim = KubeSim(seed_text="apiVersion: v1\nkind: Widget\nmetadata: {name: w}\n")
    try:
        sim.start()
        tap.ok(False, "bad seed refused with a message naming the file")
        sim.stop()
    except RuntimeError as e:
        tap.ok("seed.yaml" in str(e) and "not a served resource type" in str(e),
               "bad seed refused with a message naming the file", str(e))
        sim.stop()


def check_garbage(sim):
    """Bounded pseudo-random requests (fixed seed): every one gets an HTTP answer, the server survives."""
    import random
    rnd = random.Random(20261126)
    paths = [LEASES, LEASES + "/g", CMS, CMS + "/g", "/api/v1/namespaces/g", "/api/v1/namespaces/default/pods/g/status",
             "/apis/networking.k8s.io/v1/ingresses", "/api/v1/watch/namespaces/default/configmaps",
             "/apis/coordination.k8s.io/v1/leases", "/api/v1/namespaces/%zz/configmaps", "/apis//v1", "/api/v1/" + "x/" * 20]
    queries = ["", "?limit=-1", "?limit=abc", "?continue=eyJydiI6IjEifQ", "?continue=" + "A" * 3000,
               "?labelSelector=" + "(" * 50, "?labelSelector=a%20in%20(b,c", "?fieldSelector=metadata.name%3D%5C",
               "?resourceVersion=-5", "?resourceVersion=18446744073709551615&resourceVersionMatch=Exact",
               "?watch=1&timeoutSeconds=0", "?watch=1&resourceVersion=abc", "?fieldValidation=Bogus", "?dryRun=All"]
    bodies = [None, "", "null", "[]", "{", '{"metadata":"x"}', '{"metadata":{"name":5}}',
              '{"metadata":{"name":"g","labels":{"a":1}},"spec":[]}', '{"metadata":{"name":"g"},"spec":{"renewTime":7}}',
              '{"metadata":{"name":"g"},"data":{"a":{"b":1}}}', '[{"op":"move","from":"/x","path":"/y"}]',
              '[{"op":"add","path":"/metadata/labels/a~1b","value":"v"}]', '{"a":' * 100 + "1" + "}" * 100,
              bytes(rnd.getrandbits(8) for _ in range(200))]
    types = ["application/json", "application/merge-patch+json", "application/strategic-merge-patch+json",
             "application/json-patch+json", "text/plain"]
    for _ in range(300):
        method = rnd.choice(["GET", "POST", "PUT", "PATCH", "DELETE"])
        path = rnd.choice(paths) + rnd.choice(queries)
        body = rnd.choice(bodies)
        try:
            st, _, _ = sim.request(method, path, body=body, headers={"Content-Type": rnd.choice(types)},
                                  timeout=0.3 if "watch" in path and method == "GET" else 5)
        except (socket.timeout, TimeoutError):
            st = 200  # a watch that stays open is a valid answer
        assert 200 <= st < 600, (method, path, body, st)
    st, _, _ = sim.request("GET", "/healthz")
    assert st == 200


def main():
    tap = Tap()
    with KubeSim() as sim:
        tap.run("discovery: version 1.32, groups, resources, namespaces, 404 Status", check_discovery, sim)
        tap.run("create/get/update: AlreadyExists, NotFound, 422 without resourceVersion, 409 stale, no-op PUT",
                check_create_get_conflicts, sim)
        tap.run("lease rules: MicroTime six digits, UTC normalised, 422 duration, unknown fields, create-on-update, UID precondition",
                check_lease_rules, sim)
        tap.run("patch: merge, strategic (directives ignored, named lists merged), json patch, 415", check_patch, sim)
        tap.run("ingress generation bumps on spec change; status only through /status", check_generation_and_status,
                sim)
        tap.run("selectors, limit/continue from one snapshot, exact lists, 410 after compaction",
                check_selectors_and_paging, sim)
        tap.run("watch: events in order, resume, DELETED rv, bookmarks, timeout, ERROR 410, initial events, "
                "selector transitions, pause/resume, legacy path", check_watch, sim)
        tap.run("faults: 429/503/500 with Retry-After, latency, hang and refuse one client (header, UA, port), clock offset, drop watches",
                check_faults, sim)
        tap.run("audit log records client, verb, object and resourceVersion", check_audit, sim)
        tap.run("405, 406, 415, bad JSON, generateName, deletecollection, namespace deletion", check_http_misc, sim)
        tap.run("300 pseudo-random malformed requests all answered, server survives", check_garbage, sim)
        tap.eq(sim.stop(), 0, "simulator stops cleanly on SIGTERM")
    check_seed_and_tls_auth(tap)
    check_bad_seed(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
