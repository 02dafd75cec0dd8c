#!/usr/bin/python3
"""dataplane-sim runtime endpoints against a real HAProxy: a server's address/port, state and weight change
through /runtime/backends/{b}/servers/{s} and traffic follows with no reload (the worker PID from
`show proc` unchanged); runtime map entries and whole-map replaces route requests without a reload; the
X-Runtime-Actions header of a skip_reload raw push; nothing here changes the configuration version. TAP."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpsim import B, Backend, DataplaneSim, Tap, get_through  # noqa: E402

R = B + "/runtime"


def conf(port, maps_dir, slot_port):
    return ("global\n  log stderr format raw local0 notice\n"
            "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n"
            "frontend fe\n  bind 127.0.0.1:%d\n"
            "  use_backend %%[req.hdr(host),lower,map(%s/hosts.map,be_app)]\n"
            "backend be_app\n  server slot1 127.0.0.1:%d weight 10\n"
            "backend be_other\n  http-request return status 200 content-type text/plain string other\n"
            % (port, maps_dir, slot_port))


def setup(dp, a):
    maps_dir = os.path.join(dp.work, "maps")
    st, _, _ = dp.upload("maps", "hosts.map", "")
    assert st == 201
    st, h, _ = dp.push(conf(dp.http_port, maps_dir, a.port))
    assert dp.wait_reload(h["reload-id"])["status"] == "succeeded"
    assert get_through(dp.http_port) == (200, "a")


def check_server_changes_without_reload(dp, a, b):
    setup(dp, a)
    pid, v = dp.show_proc()["workers"][0]["pid"], dp.version()
    st, _, lst = dp.jrequest("GET", R + "/backends/be_app/servers")
    assert st == 200 and lst == [{"name": "slot1", "id": "1", "address": "127.0.0.1", "port": a.port,
                                  "admin_state": "ready", "operational_state": "up", "weight": 10}], lst
    st, _, s = dp.jrequest("PUT", R + "/backends/be_app/servers/slot1", {"port": b.port, "weight": 3})
    assert st == 200 and s["port"] == b.port and s["weight"] == 3, (st, s)
    assert get_through(dp.http_port) == (200, "b")
    st, _, s = dp.jrequest("PUT", R + "/backends/be_app/servers/slot1", {"admin_state": "maint"})
    assert st == 200 and s["admin_state"] == "maint", s
    assert get_through(dp.http_port)[0] == 503
    st, _, s = dp.jrequest("PUT", R + "/backends/be_app/servers/slot1", {"admin_state": "ready"})
    assert get_through(dp.http_port) == (200, "b")
    assert dp.show_proc()["workers"][0]["pid"] == pid and dp.version() == v
    st, _, e = dp.jrequest("PUT", R + "/backends/be_app/servers/slot1", {"admin_state": "sleepy"})
    assert st == 422, (st, e)
    st, _, e = dp.jrequest("GET", R + "/backends/be_app/servers/nope")
    assert st == 404 and e["message"] == "Runtime server nope not found in backend be_app", e
    st, _, e = dp.jrequest("GET", R + "/backends/nope/servers")
    assert st == 404, (st, e)
    # X-Runtime-Actions on a skip_reload raw push: the file changes, the worker applies the actions
    text = conf(dp.http_port, os.path.join(dp.work, "maps"), a.port)
    st, h, _ = dp.request("POST", B + "/configuration/raw?version=%d&skip_reload=true" % dp.version(), text,
                          headers={"X-Runtime-Actions": "SetServerAddr be_app slot1 127.0.0.1 %d;"
                                                        "SetServerWeight be_app slot1 10;Bogus x y" % a.port})
    assert st == 201, (st, h)
    assert get_through(dp.http_port) == (200, "a")
    assert dp.show_proc()["workers"][0]["pid"] == pid


def check_runtime_maps_without_reload(dp, a, b):
    pid = dp.show_proc()["workers"][0]["pid"]
    maps_dir = os.path.join(dp.work, "maps")
    st, _, lst = dp.jrequest("GET", R + "/maps")
    assert st == 200 and len(lst) == 1 and lst[0]["file"] == maps_dir + "/hosts.map", lst
    assert lst[0]["storage_name"] == "hosts.map"
    st, _, e = dp.jrequest("POST", R + "/maps/hosts/entries", {"key": "o.example", "value": "be_other"})
    assert st == 201 and e == {"key": "o.example", "value": "be_other"}, (st, e)
    assert get_through(dp.http_port, "o.example") == (200, "other")
    st, _, e = dp.jrequest("POST", R + "/maps/hosts.map/entries", {"key": "o.example", "value": "be_app"})
    assert st == 409, (st, e)
    st, _, e = dp.jrequest("GET", R + "/maps/hosts/entries/o.example")
    assert e == {"key": "o.example", "value": "be_other"}, e
    st, _, e = dp.jrequest("PUT", R + "/maps/hosts/entries/o.example", {"value": "be_app"})
    assert st == 200 and get_through(dp.http_port, "o.example") == (200, "a"), (st, e)
    st, _, _ = dp.request("DELETE", R + "/maps/hosts/entries/o.example?force_sync=true")
    assert st == 204
    st, _, _ = dp.request("GET", R + "/maps/hosts/entries/o.example")
    assert st == 404
    # a large replace goes through prepare/add @ver/commit (chunked under HAProxy's buffer)
    pairs = [{"key": "h%04d.example" % i, "value": "be_other"} for i in range(800)]
    st, _, body = dp.jrequest("PUT", R + "/maps/hosts?force_sync=true", pairs)
    assert st == 201 and body == pairs, st
    st, _, entries = dp.jrequest("GET", R + "/maps/hosts/entries")
    assert len(entries) == 800, len(entries)
    assert get_through(dp.http_port, "h0799.example") == (200, "other")
    with open(maps_dir + "/hosts.map") as f:
        assert f.read().count("\n") == 800  # force_sync wrote the file
    st, _, _ = dp.request("DELETE", R + "/maps/hosts")
    assert st == 204 and dp.jrequest("GET", R + "/maps/hosts/entries")[2] == []
    assert dp.show_proc()["workers"][0]["pid"] == pid


def main():
    tap = Tap()
    a, b = Backend("a"), Backend("b")
    try:
        with DataplaneSim() as dp:
            for fn in (check_server_changes_without_reload, check_runtime_maps_without_reload):
                if not tap.run(fn.__name__, fn, dp, a, b):
                    print("# " + (dp.read_log() + dp.haproxy_log())[-3000:].replace("\n", "\n# "))
    finally:
        a.close()
        b.close()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
