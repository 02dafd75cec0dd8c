#!/usr/bin/python3
"""dataplane-sim against a real HAProxy: raw configuration pushes (traffic follows a pushed backend),
versions and 409, haproxy -c refusals (400 with haproxy's message, the running config keeps serving),
reload status in_progress / succeeded / failed (injected and real), auth, media types, the audit. TAP."""
import hashlib
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpsim import B, PASSWORD, Backend, DataplaneSim, Tap, get_through  # noqa: E402


def site(port, backend_port, ident="", extra=""):
    return (ident + "global\n  log stderr format raw local0 notice\n"
            "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n"
            "frontend fe\n  bind 127.0.0.1:%d\n%s  default_backend be_app\n"
            "backend be_app\n  server s1 127.0.0.1:%d\n" % (port, extra, backend_port))


def check_push_serves_a_backend(dp, be):
    assert get_through(dp.http_port)[0] == 404  # the bootstrap config
    v = dp.version()
    assert v == 1, v  # an unmanaged file has version 1
    st, h, body = dp.push(site(dp.http_port, be.port))
    assert st == 202, (st, body)
    assert h["configuration-version"] == "2" and h["reload-id"], h
    text = body.decode()
    assert text.startswith("# _md5hash=") and text.split("\n")[1] == "# _version=2", text[:80]
    o = dp.wait_reload(h["reload-id"])
    assert o["status"] == "succeeded" and o["id"] == h["reload-id"], o
    st, text = get_through(dp.http_port)
    assert (st, text) == (200, "app"), (st, text)
    st, gh, raw = dp.request("GET", B + "/configuration/raw")
    assert st == 200 and gh["content-type"] == "text/plain", gh
    rest = raw.decode().split("\n", 1)[1]
    assert gh["configuration-checksum"] == hashlib.md5(rest.encode()).hexdigest(), gh
    assert raw.decode().split("\n", 1)[0] == "# _md5hash=" + gh["configuration-checksum"]
    # what haproxy runs is the file the stand-in wrote
    with open(dp.cfg_path) as f:
        assert f.read() == raw.decode()


def check_stale_version_is_409(dp, be):
    v = dp.version()
    st, h, body = dp.push(site(dp.http_port, be.port), version=v - 1)
    assert st == 409, (st, body)
    assert b"version mismatch: version in configuration file is %d, given version is %d" % (v, v - 1) in body
    assert h["configuration-version"] == str(v), h
    assert dp.version() == v
    st, _, body = dp.request("POST", B + "/configuration/raw", site(dp.http_port, be.port))
    assert st == 400 and b"version or transaction not specified" in body, (st, body)
    st, _, body = dp.request("POST", B + "/configuration/raw?version=abc", site(dp.http_port, be.port))
    assert st == 422, (st, body)


def check_bad_config_is_400_and_old_one_serves(dp, be):
    v = dp.version()
    bad = site(dp.http_port, be.port, extra="  bogus_keyword here\n")
    st, h, body = dp.push(bad, version=v)
    assert st == 400, (st, body)
    assert h["content-type"] == "text/plain", h  # go-swagger raw endpoints send error JSON as text/plain
    assert b"validation error" in body and b"unknown keyword 'bogus_keyword'" in body, body
    assert dp.version() == v
    with open(dp.cfg_path) as f:
        assert "bogus_keyword" not in f.read()
    assert get_through(dp.http_port) == (200, "app")


def check_media_types_and_methods(dp, be):
    st, _, body = dp.request("POST", B + "/configuration/raw?version=1", site(dp.http_port, be.port),
                             ctype="application/x-www-form-urlencoded")
    assert st == 415 and b"unsupported media type" in body, (st, body)
    st, _, body = dp.request("GET", B + "/configuration/raw", headers={"Accept": "application/json"})
    assert st == 406, (st, body)
    st, h, body = dp.request("PUT", B + "/configuration/raw", "x\n")
    assert st == 405 and "allow" in h, (st, h)
    st, _, body = dp.request("POST", B + "/configuration/raw?version=%d" % dp.version(), "global")
    assert st == 400 and b"no newline character found" in body, (st, body)
    st, _, body = dp.request("GET", "/v3/nope", auth=False)
    assert st == 404, st  # routed before auth, as go-swagger does


def check_auth(dp, be):
    for auth in (False, dp.auth(password="wrong"), dp.auth(user="nobody"), "Bearer x"):
        st, h, body = dp.jrequest("GET", B + "/configuration/version", auth=auth)
        assert st == 401 and h.get("www-authenticate") == 'Basic realm="API"', (st, h)
        assert body["code"] == 401 and h["content-type"] == "application/json", body
    st, _, _ = dp.request("POST", B + "/configuration/raw?version=%d" % dp.version(),
                          site(dp.http_port, be.port), auth=False)
    assert st == 401
    st, _, info = dp.jrequest("GET", "/v3/info")
    assert st == 200 and info["api"]["version"].startswith("v3.2"), info
    # the password appears in no log
    assert PASSWORD not in dp.read_log() and PASSWORD not in open(dp.audit_path).read()


def check_reload_in_progress_then_succeeded(dp, be):
    dp.faults(hold_reloads=True)
    st, h, _ = dp.push(site(dp.http_port, be.port))
    rid = h["reload-id"]
    st2, h2, _ = dp.push(site(dp.http_port, be.port))
    assert h2["reload-id"] == rid, (rid, h2)  # pending reloads coalesce under one ID
    st, _, o = dp.reload_status(rid)
    assert st == 200 and o == {"status": "in_progress"}, o  # pending: upstream omits the id
    st, _, lst = dp.jrequest("GET", B + "/reloads")
    assert {"id": rid, "status": "in_progress"} in lst, lst
    before = dp.show_proc()["workers"]
    dp.faults(hold_reloads=False)
    o = dp.wait_reload(rid)
    assert o["status"] == "succeeded" and o["reload_timestamp"] > 0, o
    new = dp.show_proc()["workers"]
    assert any(w["pid"] not in {b["pid"] for b in before} for w in new), (before, new)
    assert get_through(dp.http_port) == (200, "app")
    # an older ID counts as succeeded; an unknown future one is 404; a malformed one 422
    st, _, o = dp.reload_status("2000-01-01-0")
    assert st == 200 and o["status"] == "succeeded", o
    st, _, o = dp.reload_status("2999-01-01-99")
    assert st == 404 and "does not exist" in o["message"], o
    st, _, o = dp.reload_status("yesterday")
    assert st == 422, (st, o)


def check_injected_reload_failure(dp, be):
    dp.faults(fail_reloads=1)
    pid = dp.show_proc()["workers"][0]["pid"]
    st, h, _ = dp.push(site(dp.http_port, be.port).replace("s1 ", "s2 "))
    o = dp.wait_reload(h["reload-id"])
    assert o["status"] == "failed" and "injected" in o["response"], o
    assert dp.show_proc()["workers"][0]["pid"] == pid
    with open(dp.cfg_path) as f:
        assert " s2 " not in f.read()  # the last-known-good file is back, as upstream
    assert get_through(dp.http_port) == (200, "app")
    st, _, lst = dp.jrequest("GET", B + "/reloads")
    assert any(x.get("id") == h["reload-id"] and x["status"] == "failed" for x in lst), lst


def check_real_reload_failure_keeps_old_worker(dp, be):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        extra = "  bind 127.0.0.1:%d\n" % busy.getsockname()[1]  # passes haproxy -c, fails to bind
        before = dp.show_proc()
        st, h, body = dp.push(site(dp.http_port, be.port, extra=extra))
        assert st == 202, (st, body)
        o = dp.wait_reload(h["reload-id"])
        assert o["status"] == "failed" and "cannot bind" in o["response"], o
        after = dp.show_proc()
        assert after["failed"] == before["failed"] + 1, (before, after)
        assert [w["pid"] for w in after["workers"]] == [w["pid"] for w in before["workers"]]
        assert get_through(dp.http_port) == (200, "app")
    finally:
        busy.close()


def check_forced_and_skipped_reloads(dp, be):
    pid = dp.show_proc()["workers"][0]["pid"]
    st, h, _ = dp.push(site(dp.http_port, be.port), query="&skip_reload=true")
    assert st == 201 and "reload-id" not in h, (st, h)
    assert dp.show_proc()["workers"][0]["pid"] == pid
    st, h, _ = dp.push(site(dp.http_port, be.port), query="&force_reload=true")
    assert st == 201 and "reload-id" not in h, (st, h)
    assert dp.show_proc()["workers"][0]["pid"] != pid  # reloaded before answering
    v = dp.version()
    st, h, _ = dp.push(site(dp.http_port, be.port, extra="  nope\n"), query="&only_validate=true")
    assert st == 400, st
    st, h, _ = dp.push(site(dp.http_port, be.port), query="&only_validate=true")
    assert st == 202 and "reload-id" not in h and dp.version() == v, (st, h)
    # skip_version keeps the body's own version line
    st, h, _ = dp.request("POST", B + "/configuration/raw?skip_version=true&skip_reload=true",
                          "# _version=40\n" + site(dp.http_port, be.port))
    assert st == 201 and h["configuration-version"] == "40", (st, h)


def check_audit_one_line_per_write(dp, be):
    n0 = len(dp.audit_entries())
    ident = "# haproxy-template-ic term=7 generation=12 checksum=sha256:abc\n"
    st, h, _ = dp.push(ident + site(dp.http_port, be.port))
    assert st == 202
    st409, _, _ = dp.push(ident + site(dp.http_port, be.port), version=1)
    assert st409 == 409
    dp.request("GET", B + "/configuration/raw")  # reads are not audited
    dp.request("POST", B + "/configuration/raw?version=1", "x\n", auth=False)  # nor refused auth
    dp.upload("general", "a.txt", "x")
    entries = dp.audit_entries()[n0:]
    assert len(entries) == 3, entries
    a, b, c = entries
    assert (a["term"], a["generation"], a["checksum"]) == ("7", "12", "sha256:abc"), a
    assert a["method"] == "POST" and a["endpoint"] == B + "/configuration/raw" and a["result"] == 202, a
    assert a["reload_id"] == h["reload-id"] and a["time"].endswith("Z"), a
    assert b["result"] == 409 and b["term"] == "7", b
    assert c["endpoint"] == B + "/storage/general" and c["result"] == 201 and c["term"] is None, c
    dp.wait_reload(h["reload-id"])


def main():
    tap = Tap()
    be = Backend("app")
    try:
        with DataplaneSim() as dp:
            for fn in (check_push_serves_a_backend, check_stale_version_is_409,
                       check_bad_config_is_400_and_old_one_serves, check_media_types_and_methods,
                       check_auth, check_reload_in_progress_then_succeeded, check_injected_reload_failure,
                       check_real_reload_failure_keeps_old_worker, check_forced_and_skipped_reloads,
                       check_audit_one_line_per_write):
                if not tap.run(fn.__name__, fn, dp, be):
                    print("# " + dp.read_log()[-2000:].replace("\n", "\n# "))
    finally:
        be.close()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
