#!/usr/bin/python3
"""dataplane-sim fault injection and life cycle: injected 5xx (counted, narrowed by path and method),
dropped connections, delayed answers, reset; users from a file with crypt(3) hashes; SIGTERM ends the
stand-in cleanly and takes its HAProxy with it. TAP."""
import http.client
import os
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpsim import B, DataplaneSim, Tap, wait_for  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt


def check_injected_errors(dp):
    dp.faults(errors={"count": 2, "code": 503, "path": B + "/configuration/version", "method": "GET"})
    st1, _, e = dp.jrequest("GET", B + "/configuration/version")
    assert st1 == 503 and e["code"] == 503, (st1, e)
    st, _, _ = dp.jrequest("GET", B + "/reloads")
    assert st == 200  # another path is not affected
    st2, _, _ = dp.jrequest("GET", B + "/configuration/version")
    st3, _, v = dp.jrequest("GET", B + "/configuration/version")
    assert (st2, st3) == (503, 200) and v == 1, (st2, st3, v)
    assert dp.stats()["faults"]["errors"]["count"] == 0


def check_dropped_connections(dp):
    dp.faults(drop={"count": 1, "method": "POST"})
    try:
        dp.request("POST", B + "/configuration/raw?version=1", "global\n")
        raise AssertionError("the connection was answered")
    except (http.client.HTTPException, ConnectionError):
        pass
    n = len(dp.audit_entries())
    assert n == 0, dp.audit_entries()  # a dropped write changed nothing
    st, _, _ = dp.request("GET", B + "/configuration/version")
    assert st == 200


def check_latency_and_reset(dp):
    dp.faults(latency_ms=300, latency_path=B + "/configuration/version")
    t0 = time.monotonic()
    st, _, _ = dp.request("GET", B + "/configuration/version")
    print("# delayed answer after %.0f ms (300 injected)" % ((time.monotonic() - t0) * 1000))
    assert st == 200
    assert dp.stats()["faults"]["latency_ms"] == 300
    dp.reset_faults()
    assert dp.stats()["faults"]["latency_ms"] == 0
    st, b = dp.control("/faults", {"nonsense": 1})
    assert st == 400, b


def check_crypt_users_file_and_sigterm():
    with tempfile.TemporaryDirectory() as tmp:
        users = os.path.join(tmp, "users")
        with open(users, "w") as f:
            f.write("# deployer\nops:%s\nold:$2b$10$abcdefghijklmnopqrstuv\n" % crypt.crypt("pw6", "$6$saltsalt$"))
        dp = DataplaneSim(users=[], extra_args=["--users-file", users])
        dp.start()
        try:
            st, _, _ = dp.request("GET", B + "/configuration/version", auth=dp.auth("ops", "pw6"))
            assert st == 200, st
            st, _, _ = dp.request("GET", B + "/configuration/version", auth=dp.auth("ops", "pw5"))
            assert st == 401, st
            # bcrypt never authenticates, as upstream
            st, _, _ = dp.request("GET", B + "/configuration/version", auth=dp.auth("old", "anything"))
            assert st == 401, st
            master = dp.show_proc()["master"]
            workers = [w["pid"] for w in dp.show_proc()["workers"]]
        finally:
            code = dp.stop()
        assert code == 0, code
        for pid in [master] + workers:
            wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                     open("/proc/%d/stat" % pid).read().split()[2] == "Z", 10, what="haproxy %d gone" % pid)


def main():
    tap = Tap()
    with DataplaneSim() as dp:
        for fn in (check_injected_errors, check_dropped_connections, check_latency_and_reset):
            if not tap.run(fn.__name__, fn, dp):
                print("# " + dp.read_log()[-2000:].replace("\n", "\n# "))
    tap.run("check_crypt_users_file_and_sigterm", check_crypt_users_file_and_sigterm)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
