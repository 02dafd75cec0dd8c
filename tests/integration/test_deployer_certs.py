"""Certificates on the local target's fast lane, against a REAL haproxy 2.6 master-worker (the rig of
test_deployer.py): a TLS Secret rotated (same file name, new content, certificates made by openssl here) is
updated with `set ssl cert` / `commit ssl cert` through the master CLI, the new certificate is what a TLS
client gets through HAProxy, and the worker PID from `show proc` is unchanged; a new certificate name takes
one reload; a certificate that the runtime API refuses is aborted and the push reloads."""
import os
import socket
import ssl
import subprocess

import harness
from test_deployer import Rig, master, metric, worker_pids, write_generation


def gen_cert(tmp, cn, chain=0):
    """A self-signed RSA certificate for cn and its key as PEM text (chain: that many extra certificates
    after the leaf, to make the file large)."""
    key, crt = os.path.join(tmp, cn + ".key"), os.path.join(tmp, cn + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=" + cn], check=True, capture_output=True)
    with open(crt) as f:
        cert = f.read()
    with open(key) as f:
        k = f.read()
    extra = "".join(gen_cert(tmp, f"{cn}-chain{i}")[0] for i in range(chain))
    return cert + extra, k


def tls_cfg(r, crts, extra=""):
    """A TLS frontend on r.fe answering by itself, with the given files of ssl_certs_dir on its bind."""
    crt = " ".join(f"crt {r.etc}/ssl/{n}" for n in crts)
    return ("global\n    maxconn 100\ndefaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n"
            f"    timeout connect 5s\nfrontend fe\n    bind 127.0.0.1:{r.fe} ssl {crt}\n"
            "    http-request return status 200 content-type text/plain string ok\n" + extra)


def served_cn(port, sni=None):
    """The subject CN of the certificate HAProxy presents (a fresh handshake each time)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname=sni) as t:
            der = t.getpeercert(binary_form=True)
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject", "-nameopt", "multiline"],
                         input=der, capture_output=True, check=True).stdout.decode()
    return [ln.split("=", 1)[1].strip() for ln in out.splitlines() if "commonName" in ln][0]


def open_transactions(r):
    out = master(r.sock, "@1 show ssl cert")
    return [ln for ln in out.splitlines() if ln.startswith("*")]


def pem(cert_key):
    return cert_key[0] + cert_key[1]


def gen(r, cfg, certs, crt_lists=None):
    return write_generation(r.run_dir, cfg, certs=certs, crt_lists=crt_lists)


def started(r, cfg, certs, crt_lists=None):
    """HAProxy and the deployer up, generation 1 (cfg, certs) pushed; returns the worker PIDs."""
    r.start_haproxy()
    r.start_deployer()
    assert push(r, 1, gen(r, cfg, certs, crt_lists))["last_push"]["lane"] == "reload"
    return worker_pids(r.sock)


def push(r, generation, checksum):
    r.lkg(generation, checksum)
    t = r.push_result(checksum)
    assert t["last_push"]["result"] == "ok", (t, r.log())
    return t


def test_rotated_certificate_takes_the_fast_lane_and_survives_a_later_reload(tmp):
    with Rig(tmp) as r:
        one, two = gen_cert(tmp, "one"), gen_cert(tmp, "two")
        pids = started(r, tls_cfg(r, ["site.pem"]), {"site.pem": pem(one)})
        assert served_cn(r.fe) == "one"
        g2 = gen(r, tls_cfg(r, ["site.pem"]), {"site.pem": pem(two)})
        t = push(r, 2, g2)
        assert t["last_push"]["lane"] == "fast", t
        assert worker_pids(r.sock) == pids, "rotating a certificate reloaded"
        assert served_cn(r.fe) == "two"
        assert open_transactions(r) == []
        with open(os.path.join(r.etc, "ssl", "site.pem")) as f:
            assert f.read() == pem(two), "the file on disk does not follow the runtime update"
        assert "certificate updated without a reload" in r.log()
        assert metric_after(r, ["local", "ssl_cert"]) == 2  # set, commit

        # a later reload reads the files: the rotated certificate stays
        g3 = gen(r, tls_cfg(r, ["site.pem"]).replace("maxconn 100", "maxconn 200"), {"site.pem": pem(two)})
        assert push(r, 3, g3)["last_push"]["lane"] == "reload"
        assert worker_pids(r.sock) != pids
        assert served_cn(r.fe) == "two"


def test_certificates_of_a_crt_list_rotate_without_a_reload_and_a_crt_list_change_reloads(tmp):
    """As the default templates do it: one <ns>_<secret>.pem per Secret, listed with SNI filters in a crt-list."""
    with Rig(tmp) as r:
        one, two, three = gen_cert(tmp, "one"), gen_cert(tmp, "two"), gen_cert(tmp, "three")
        cfg = tls_cfg(r, ["x"]).replace(f"crt {r.etc}/ssl/x", f"crt-list {r.etc}/general/certificates.list")
        lst = {"certificates.list": f"{r.etc}/ssl/ns_a.pem [] a.example\n{r.etc}/ssl/ns_b.pem [] b.example\n"}
        pids = started(r, cfg, {"ns_a.pem": pem(one), "ns_b.pem": pem(two)}, lst)
        assert served_cn(r.fe, "a.example") == "one" and served_cn(r.fe, "b.example") == "two"
        t = push(r, 2, gen(r, cfg, {"ns_a.pem": pem(three), "ns_b.pem": pem(two)}, lst))
        assert t["last_push"]["lane"] == "fast", t
        assert worker_pids(r.sock) == pids
        assert served_cn(r.fe, "a.example") == "three" and served_cn(r.fe, "b.example") == "two"
        # a host added to a Secret's SNI filters changes the crt-list: HAProxy reads it again on a reload
        lst2 = {"certificates.list": lst["certificates.list"] + f"{r.etc}/ssl/ns_b.pem [] c.example\n"}
        t = push(r, 3, gen(r, cfg, {"ns_a.pem": pem(three), "ns_b.pem": pem(two)}, lst2))
        assert t["last_push"]["lane"] == "reload", t
        assert worker_pids(r.sock) != pids
        assert served_cn(r.fe, "c.example") == "two"


def test_new_certificate_name_takes_one_reload(tmp):
    with Rig(tmp) as r:
        one, two = gen_cert(tmp, "one"), gen_cert(tmp, "two")
        pids = started(r, tls_cfg(r, ["a.pem"]), {"a.pem": pem(one)})
        g2 = gen(r, tls_cfg(r, ["a.pem", "b.pem"]), {"a.pem": pem(one), "b.pem": pem(two)})
        t = push(r, 2, g2)
        assert t["last_push"]["lane"] == "reload", t
        new = worker_pids(r.sock)
        assert new != pids and len(set(new) - set(pids)) == 1, (pids, new)
        assert served_cn(r.fe, "two") == "two" and served_cn(r.fe, "one") == "one"
        reloads = [e for e in r.audit() if e["action"] == "reload" and e["result"] == "ok"]
        assert len(reloads) == 2 and reloads[1]["checksum"] == g2, reloads  # the first push, then this one


def test_large_certificate_sends_its_key_apart_and_one_too_large_reloads(tmp):
    with Rig(tmp) as r:
        one = gen_cert(tmp, "one")
        pids = started(r, tls_cfg(r, ["site.pem"]), {"site.pem": pem(one)})
        # leaf + 12 chain certificates (~14.3 KB) + key (~1.7 KB): over one 15,000-byte request, each part under it
        big = gen_cert(tmp, "big", chain=12)
        assert len(big[0]) < 14700 and len(big[0]) + len(big[1]) > 15000, (len(big[0]), len(big[1]))
        g2 = gen(r, tls_cfg(r, ["site.pem"]), {"site.pem": pem(big)})
        t = push(r, 2, g2)
        assert t["last_push"]["lane"] == "fast", (t, r.log())
        assert worker_pids(r.sock) == pids
        assert served_cn(r.fe) == "big"
        assert metric_after(r, ["local", "ssl_cert"]) == 3  # set, set .key, commit
        # certificates alone over a request: the runtime API cannot take them, one reload, and why is logged
        huge = gen_cert(tmp, "huge", chain=14)
        assert len(huge[0]) > 15000
        g3 = gen(r, tls_cfg(r, ["site.pem"]), {"site.pem": pem(huge)})
        t = push(r, 3, g3)
        assert t["last_push"]["lane"] == "reload", t
        assert served_cn(r.fe) == "huge"
        assert "over the" in r.log() and "change takes the reload lane" in r.log()


def metric_after(r, labels):
    while r.recv()["type"] != "metrics":
        pass
    return metric(r.seen, "haproxy_ic_deploy_runtime_commands_total", labels)


def test_refused_commit_is_aborted_then_the_push_reloads(tmp):
    with Rig(tmp) as r:
        one, two, three = gen_cert(tmp, "one"), gen_cert(tmp, "two"), gen_cert(tmp, "three")
        pids = started(r, tls_cfg(r, ["site.pem"]), {"site.pem": pem(one)})
        # certificate two with key three: `set ssl cert` takes it, `commit` refuses (inconsistent key), and so
        # does the reload that follows; the old worker keeps certificate one and no open transaction
        g2 = gen(r, tls_cfg(r, ["site.pem"]), {"site.pem": two[0] + three[1]})
        r.lkg(2, g2)
        t = r.push_result(g2)
        assert t["last_push"]["result"] == "failed" and t["last_push"]["lane"] == "reload", t
        assert t["last_push"]["rolled_back"] is True, t
        acts = [(e["action"], e["result"]) for e in r.audit() if e["checksum"] == g2]
        assert ("runtime", "failed") in acts and ("reload", "refused") in acts, acts
        assert "ssl cert transaction aborted" in r.log()
        assert worker_pids(r.sock) == pids
        assert open_transactions(r) == []
        assert served_cn(r.fe) == "one"
        # nothing was left open: the next rotation goes through the runtime API again
        g3 = gen(r, tls_cfg(r, ["site.pem"]), {"site.pem": pem(two)})
        t = push(r, 3, g3)
        assert t["last_push"]["lane"] == "fast", t
        assert worker_pids(r.sock) == pids
        assert served_cn(r.fe) == "two"


def test_certificate_path_as_haproxy_spells_it_is_used_and_one_it_did_not_load_reloads(tmp):
    with Rig(tmp) as r:
        one, two, three = gen_cert(tmp, "one"), gen_cert(tmp, "two"), gen_cert(tmp, "three")
        # HAProxy names a certificate as the configuration spells its path; `show ssl cert` tells which
        spelled = tls_cfg(r, ["x"]).replace(f"crt {r.etc}/ssl/x", f"crt {r.etc}//ssl/./site.pem")
        pids = started(r, spelled, {"site.pem": pem(one)})
        assert f"{r.etc}//ssl/./site.pem" in master(r.sock, "@1 show ssl cert")
        t = push(r, 2, gen(r, spelled, {"site.pem": pem(two)}))
        assert t["last_push"]["lane"] == "fast", (t, r.log())
        assert worker_pids(r.sock) == pids
        assert served_cn(r.fe) == "two"
        # through crt-base with "..": the same file for the kernel, not a name we can vouch for
        based = tls_cfg(r, ["x"]).replace(f"crt {r.etc}/ssl/x", "crt site.pem").replace(
            "global\n", f"global\n    crt-base {r.etc}/ssl/../ssl\n")
        push(r, 3, gen(r, based, {"site.pem": pem(two)}))
        pids = worker_pids(r.sock)
        t = push(r, 4, gen(r, based, {"site.pem": pem(three)}))
        assert t["last_push"]["lane"] == "reload", t
        assert "HAProxy did not load it as" in r.log(), r.log()
        assert worker_pids(r.sock) != pids
        assert served_cn(r.fe) == "three"


if __name__ == "__main__":
    harness.run([
        test_rotated_certificate_takes_the_fast_lane_and_survives_a_later_reload,
        test_certificates_of_a_crt_list_rotate_without_a_reload_and_a_crt_list_change_reloads,
        test_new_certificate_name_takes_one_reload,
        test_large_certificate_sends_its_key_apart_and_one_too_large_reloads,
        test_refused_commit_is_aborted_then_the_push_reloads,
        test_certificate_path_as_haproxy_spells_it_is_used_and_one_it_did_not_load_reloads,
    ])
