#!/usr/bin/env python3
"""The long-running processes under valgrind (memcheck): the supervisor and every child it starts run, serve,
restart a killed worker and shut down with no memory error and no definite leak. Normal build only (the
sanitizer build already checks the same code with ASan)."""
import os
import signal
import subprocess
import time
import urllib.request

import harness as h


def test_process_tree_is_valgrind_clean(tmp):
    port = h.free_port()
    cfg = h.config(tmp, http_port=port)
    vg = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
          "--show-leak-kinds=definite", "--trace-children=yes", f"--log-file={tmp}/vg.%p.log"]
    with h.Proc(vg + [h.HTIC_BIN, "run", "--config", cfg], tmp, name="supervisor") as p:
        h.wait_for(lambda: "all children up" in p.text(), timeout=60, what="children up under valgrind")
        for path in ("/metrics", "/debug/vars", "/healthz", "/nope"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20).read()
            except urllib.error.HTTPError:
                pass
        kids = p.children()
        os.kill(kids["renderer"], signal.SIGKILL)
        h.wait_for(lambda: p.text().count("child started") >= 7, timeout=60, what="renderer restarted")
        time.sleep(1)
        os.kill(p.pid, signal.SIGTERM)
        rc = p.wait(timeout=60)
    reports = []
    for name in os.listdir(tmp):
        if name.startswith("vg.") and os.path.getsize(os.path.join(tmp, name)) > 0:
            text = h.open_text(os.path.join(tmp, name))
            if "killed by signal 9" not in text or "ERROR SUMMARY" in text:
                reports.append(f"{name}:\n{text[:3000]}")
    assert rc == 0, (rc, reports)
    assert not reports, "\n".join(reports)


if __name__ == "__main__":
    h.run([test_process_tree_is_valgrind_clean])
