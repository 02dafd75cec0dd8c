#!/usr/bin/python3
"""dataplane-sim storage endpoints against a real HAProxy: maps, general files and SSL certificates are
created, listed, read, replaced and deleted with the real API's status codes; the files land on disk where
the pushed config references them and HAProxy uses them; referenced files cannot be deleted. TAP."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpsim import B, Backend, DataplaneSim, Tap, get_through  # noqa: E402

S = B + "/storage"


def routed(port, maps_dir, a_port, b_port, general_dir=None):
    errfile = "  errorfile 503 %s/503.http\n" % general_dir if general_dir else ""
    return ("global\n  log stderr format raw local0 notice\n"
            "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n%s"
            "frontend fe\n  bind 127.0.0.1:%d\n"
            "  use_backend %%[req.hdr(host),lower,map(%s/hosts.map,be_none)]\n"
            "backend be_a\n  server a 127.0.0.1:%d\n"
            "backend be_b\n  server b 127.0.0.1:%d\n"
            "backend be_none\n  http-request return status 404\n" % (errfile, port, maps_dir, a_port, b_port))


def check_maps(dp, a, b):
    st, _, o = dp.upload("maps", "hosts", "a.example be_a\n")
    assert st == 201, (st, o)
    maps_dir = os.path.join(dp.work, "maps")
    assert o == {"description": "managed but not loaded map file (no runtime ID)",
                 "file": maps_dir + "/hosts.map", "storage_name": "hosts.map", "size": 15}, o
    st, _, o = dp.upload("maps", "hosts.map", "x y\n")
    assert st == 409 and "already exists" in o["message"], (st, o)
    st, _, lst = dp.jrequest("GET", S + "/maps")
    assert lst == [{"description": "managed map file", "file": maps_dir + "/hosts.map",
                    "storage_name": "hosts.map"}], lst
    st, h, body = dp.request("GET", S + "/maps/hosts.map")
    assert st == 200 and body == b"a.example be_a\n" and h["content-type"] == "application/octet-stream"
    st, h, body = dp.request("GET", S + "/maps/hosts")  # .map is not appended on GET
    assert st == 404 and h["content-type"] == "application/octet-stream", (st, h)
    st, h, _ = dp.push(routed(dp.http_port, maps_dir, a.port, b.port))
    assert dp.wait_reload(h["reload-id"])["status"] == "succeeded"
    assert get_through(dp.http_port, "a.example") == (200, "a")
    assert get_through(dp.http_port, "b.example")[0] == 404
    # replace: 202 + Reload-Id by default, the reload makes HAProxy read the new file
    st, h, body = dp.request("PUT", S + "/maps/hosts.map", "a.example be_a\nb.example be_b\n")
    assert st == 202 and h["reload-id"] and body == b"", (st, h, body)
    assert dp.wait_reload(h["reload-id"])["status"] == "succeeded"
    assert get_through(dp.http_port, "b.example") == (200, "b")
    with open(maps_dir + "/hosts.map") as f:
        assert f.read() == "a.example be_a\nb.example be_b\n"
    st, h, _ = dp.request("PUT", S + "/maps/hosts.map?skip_reload=true", "a.example be_b\n")
    assert st == 204 and "reload-id" not in h, (st, h)
    assert get_through(dp.http_port, "a.example") == (200, "a")  # not reloaded
    st, h, _ = dp.request("PUT", S + "/maps/hosts.map?force_reload=true", "a.example be_b\n")
    assert st == 204 and get_through(dp.http_port, "a.example") == (200, "b"), st
    st, _, _ = dp.request("PUT", S + "/maps/hosts.map", "x y\n", ctype="application/json")
    assert st == 415
    st, _, o = dp.jrequest("PUT", S + "/maps/nope.map", "x y\n")
    assert st == 404 and "doesn't exist" in o["message"], o
    # delete refuses a referenced file, then works once the config drops it
    st, _, o = dp.jrequest("DELETE", S + "/maps/hosts.map")
    assert st == 409 and "referenced in haproxy conf at line" in o["message"], (st, o)
    st, _, _ = dp.upload("maps", "old one.map", "k v\n")
    assert st == 201
    st, _, _ = dp.request("DELETE", S + "/maps/old_one.map")  # sanitised name
    assert st == 204 and not os.path.exists(maps_dir + "/old_one.map")
    st, _, _ = dp.request("DELETE", S + "/maps/old_one.map")
    assert st == 404


def check_general_files(dp, a, b):
    gen = os.path.join(dp.work, "general")
    page = "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\nsorry v1\n"
    st, _, o = dp.upload("general", "503.http", page)
    assert st == 201 and o["file"] == gen + "/503.http" and o["size"] == len(page), o
    st, _, o = dp.request("POST", S + "/general", b"--x\r\n\r\n--x--\r\n",
                          ctype="multipart/form-data; boundary=x")
    assert st == 400 and b"No file_upload form param specified" in o, (st, o)
    b.close()  # be_b now fails: its errors show the 503 page
    st, h, _ = dp.push(routed(dp.http_port, os.path.join(dp.work, "maps"), a.port, b.port, gen))
    assert dp.wait_reload(h["reload-id"])["status"] == "succeeded"
    assert get_through(dp.http_port, "a.example") == (503, "sorry v1\n")
    # general PUT is multipart, like POST
    st, h, _ = dp.request("PUT", S + "/general/503.http", page, ctype="text/plain")
    assert st == 415, st
    st, h, _ = dp.upload("general", "503.http", page.replace("v1", "v2"), method="PUT", name="503.http")
    assert st == 202 and h["reload-id"], (st, h)
    assert dp.wait_reload(h["reload-id"])["status"] == "succeeded"
    assert get_through(dp.http_port, "a.example") == (503, "sorry v2\n")
    st, _, lst = dp.jrequest("GET", S + "/general")
    assert [x["storage_name"] for x in lst] == ["503.http"], lst
    st, _, body = dp.request("GET", S + "/general/503.http")
    assert body == page.replace("v1", "v2").encode()


def make_cert(tmp, cn):
    key, crt = os.path.join(tmp, cn + ".key"), os.path.join(tmp, cn + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "30", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:%s,DNS:www.%s" % (cn, cn)], check=True, capture_output=True)
    with open(crt) as f1, open(key) as f2:
        return f1.read() + f2.read()


def check_ssl_certificates(dp, a, b):
    with tempfile.TemporaryDirectory() as tmp:
        pem = make_cert(tmp, "one.example")
        pem2 = make_cert(tmp, "two.example")
    ssl_dir = os.path.join(dp.work, "ssl")
    st, _, o = dp.upload("ssl_certificates", "one.example.pem", pem.split("-----BEGIN PRIVATE")[0])
    assert st == 500 and "both certificate and private key" in o["message"], (st, o)
    dp.faults(ssl_runtime_fails=True)  # the 3.2 runtime branch failing: 202 + Reload-Id
    st, h, o = dp.upload("ssl_certificates", "one.example.pem", pem)
    assert st == 202 and h["reload-id"], (st, h, o)
    assert o["storage_name"] == "one_example.pem" and o["file"] == ssl_dir + "/one_example.pem", o
    assert o["subject"] == "one.example" and o["domains"] == "one.example, www.one.example", o
    assert o["not_after"].endswith("Z") and o["serial"].isdigit(), o
    dp.faults(ssl_runtime_fails=False)
    st, h, o = dp.upload("ssl_certificates", "two.pem", pem2, query="?skip_reload=true")
    assert st == 201 and "reload-id" not in h, (st, h)
    st, _, lst = dp.jrequest("GET", S + "/ssl_certificates")
    assert sorted(x["storage_name"] for x in lst) == ["one_example.pem", "two.pem"], lst
    with open(os.path.join(ssl_dir, "junk.pem"), "w") as f:
        f.write("not a pem\n")
    st, _, lst = dp.jrequest("GET", S + "/ssl_certificates")
    assert "junk.pem" not in [x["storage_name"] for x in lst], lst  # invalid PEMs are omitted
    st, _, o = dp.jrequest("GET", S + "/ssl_certificates/one_example.pem")
    assert st == 200 and o["subject"] == "one.example" and "BEGIN" not in str(o), o  # metadata only
    # a TLS frontend on the stored certificate
    conf = ("global\n  log stderr format raw local0 notice\ndefaults\n  mode http\n  timeout connect 1s\n"
            "  timeout client 5s\n  timeout server 5s\nfrontend fe\n  bind 127.0.0.1:%d ssl crt %s/one_example.pem\n"
            "  default_backend be_a\nbackend be_a\n  server a 127.0.0.1:%d\n" % (dp.http_port, ssl_dir, a.port))
    st, h, _ = dp.push(conf)
    assert dp.wait_reload(h["reload-id"])["status"] == "succeeded"
    out = subprocess.run(["curl", "-sk", "https://127.0.0.1:%d/" % dp.http_port, "-w", " %{http_code}"],
                         capture_output=True, text=True, timeout=10).stdout
    assert out == "a 200", out
    # replace of a loaded certificate goes through the runtime API: 200, no reload
    pid = dp.show_proc()["workers"][0]["pid"]
    st, h, o = dp.jrequest("PUT", S + "/ssl_certificates/one_example.pem", pem2)
    assert st == 200 and "reload-id" not in h and o["subject"] == "two.example", (st, h, o)
    assert dp.show_proc()["workers"][0]["pid"] == pid
    out = subprocess.run(["curl", "-sk", "-v", "https://127.0.0.1:%d/" % dp.http_port],
                         capture_output=True, text=True, timeout=10).stderr
    assert "CN=two.example" in out, out
    st, _, o = dp.jrequest("DELETE", S + "/ssl_certificates/one_example.pem")
    assert st == 409, (st, o)
    st, h, _ = dp.request("DELETE", S + "/ssl_certificates/two.pem")
    assert st == 202 and h["reload-id"], (st, h)  # 3.2: delete always schedules a reload
    st, h, _ = dp.request("DELETE", S + "/ssl_certificates/two.pem")
    assert st == 404


def main():
    tap = Tap()
    a, b = Backend("a"), Backend("b")
    try:
        with DataplaneSim() as dp:
            for fn in (check_maps, check_general_files, check_ssl_certificates):
                if not tap.run(fn.__name__, fn, dp, a, b):
                    print("# " + (dp.read_log() + dp.haproxy_log())[-3000:].replace("\n", "\n# "))
            tap.ok(dp.version() > 1 and all(e["method"] != "GET" for e in dp.audit_entries()),
                   "storage writes are audited, reads are not")
    finally:
        a.close()
        b.close()  # closing twice is harmless (check_general_files closes it early)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
