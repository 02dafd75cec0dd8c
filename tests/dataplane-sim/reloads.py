"""The reload agent of the stand-in, after dataplaneapi's (dataplane-api-v3.md section 6): changes schedule
a reload and get its ID (pending reloads coalesce: one ID until it runs), a ticker runs the pending reload
every reload_delay, a forced reload runs at once. A reload is `reload` on the master CLI confirmed by
`show proc` (HAProxy 2.6 answers nothing to `reload`): succeeded when a new worker appears, failed when the
master's failed-reload counter grows. On failure the last-known-good file is copied back over haproxy.cfg,
as the real agent does. Not for: starting HAProxy (sim.py does), deciding what needs a reload (handlers)."""
import os
import shutil
import threading
import time

import master_cli

# How long one reload may take before it is declared failed. HAProxy 2.6 retries a busy bind for about
# a second before giving up, and a 1k-backend config parses in well under a second; 30 s covers a loaded CI.
RELOAD_TIMEOUT_S = 30.0
# Poll period of `show proc` while a reload runs: the master answers within a millisecond once it is back.
POLL_S = 0.01
# Failed reloads are remembered this long (dataplaneapi: reload_retention, default one day).
RETENTION_S = 24 * 3600
# Startup-log text kept as a reload's `response`: enough for the ALERT lines of a refused config.
RESPONSE_MAX_BYTES = 16 * 1024


class ReloadAgent:
    def __init__(self, master_sock, cfg_path, haproxy_log, delay_s, faults, log):
        self.master_sock = master_sock
        self.cfg_path = cfg_path
        self.lkg_path = cfg_path + ".lkg"
        self.haproxy_log = haproxy_log
        self.delay_s = delay_s
        self.faults = faults
        self.log = log
        self.lock = threading.Lock()        # guards the fields below
        self.run_lock = threading.Lock()    # one reload at a time
        self.counter = 0
        self.pending = None
        self.executing = None
        self.failed = {}                    # id -> reload object
        self.last_success = None            # reload object
        self.reloads_done = 0
        self.stop_ev = threading.Event()
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._ticker, daemon=True)

    def start(self):
        shutil.copyfile(self.cfg_path, self.lkg_path)
        self.thread.start()

    def stop(self):
        self.stop_ev.set()
        self.wake.set()
        self.thread.join(5)

    # ---- scheduling ----
    def schedule(self):
        """Returns the ID of the pending reload, creating one if none is pending."""
        with self.lock:
            if self.pending is None:
                self.pending = "%s-%d" % (time.strftime("%Y-%m-%d"), self.counter)
                self.counter += 1
            return self.pending

    def force(self):
        """Runs the pending reload now, or an unrecorded one; returns (ok, response)."""
        with self.run_lock:
            with self.lock:
                rid, self.pending = self.pending, None
            obj = self._execute(rid)
            return obj["status"] == "succeeded", obj.get("response", "")

    def release(self):
        """Wakes the ticker (after a fault that held reloads is lifted)."""
        self.wake.set()

    def _ticker(self):
        while not self.stop_ev.is_set():
            self.wake.wait(self.delay_s)
            self.wake.clear()
            if self.stop_ev.is_set():
                return
            if self.faults.hold_reloads():
                continue
            with self.run_lock:
                with self.lock:
                    rid, self.pending = self.pending, None
                if rid is not None:
                    self._execute(rid)

    # ---- one reload ----
    def _log_offset(self):
        try:
            return os.path.getsize(self.haproxy_log)
        except OSError:
            return 0

    def _log_since(self, off):
        try:
            with open(self.haproxy_log, "rb") as f:
                f.seek(off)
                return f.read(RESPONSE_MAX_BYTES).decode(errors="replace")
        except OSError:
            return ""

    def _proc(self, deadline):
        while True:
            try:
                return master_cli.show_proc(self.master_sock)
            except master_cli.MasterCliError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(POLL_S)

    def _reload(self):
        """Returns (ok, response text)."""
        deadline = time.monotonic() + RELOAD_TIMEOUT_S
        if self.faults.take_reload_failure():
            return False, "injected reload failure (dataplane-sim fault)"
        off = self._log_offset()
        try:
            before = self._proc(deadline)
            old = {w["pid"] for w in before["workers"]}
            master_cli.command(self.master_sock, "reload")
            while time.monotonic() < deadline:
                try:
                    p = master_cli.show_proc(self.master_sock)
                except master_cli.MasterCliError:
                    time.sleep(POLL_S)
                    continue
                if p["failed"] > before["failed"]:
                    return False, self._log_since(off) or "reload failed"
                new = [w for w in p["workers"] if w["pid"] not in old and w["reloads"] == 0]
                if p["reloads"] > before["reloads"] and new:
                    return True, self._log_since(off)
                time.sleep(POLL_S)
            return False, "reload not confirmed within %d s\n%s" % (RELOAD_TIMEOUT_S, self._log_since(off))
        except master_cli.MasterCliError as e:
            return False, "master CLI: %s" % e

    def _execute(self, rid):
        with self.lock:
            self.executing = rid
        ok, response = self._reload()
        obj = {"status": "succeeded" if ok else "failed", "reload_timestamp": int(time.time())}
        if response:
            obj["response"] = response
        if rid is not None:
            obj["id"] = rid
        if ok:
            shutil.copyfile(self.cfg_path, self.lkg_path + ".tmp")
            os.replace(self.lkg_path + ".tmp", self.lkg_path)
        else:
            # like dataplaneapi: put the last-known-good file back; the in-memory version is not rolled back
            shutil.copyfile(self.lkg_path, self.cfg_path + ".tmp")
            os.replace(self.cfg_path + ".tmp", self.cfg_path)
        with self.lock:
            self.executing = None
            self.reloads_done += 1
            if rid is not None:
                if ok:
                    self.last_success = obj
                else:
                    self.failed[rid] = obj
            now = time.time()
            for k in [k for k, v in self.failed.items() if now - v["reload_timestamp"] > RETENTION_S]:
                del self.failed[k]
        self.log("reload", id=rid or "force", status=obj["status"])
        return obj

    # ---- lookups (section 6.3 and 6.4) ----
    def list(self):
        with self.lock:
            out = list(self.failed.values())
            if self.last_success:
                out.append(self.last_success)
            if self.executing:
                out.append({"id": self.executing, "status": "in_progress"})
            if self.pending:
                out.append({"id": self.pending, "status": "in_progress"})
            return out

    def get(self, rid):
        with self.lock:
            if self.executing is not None and rid == self.executing:
                return {"id": rid, "status": "in_progress"}
            if self.pending is not None and rid == self.pending:
                # upstream quirk: the id field carries the executing reload's id (normally none)
                o = {"status": "in_progress"}
                if self.executing:
                    o["id"] = self.executing
                return o
            if rid in self.failed:
                return dict(self.failed[rid])
            ls = self.last_success
            if ls is not None:
                if rid == ls["id"]:
                    return dict(ls)
                d, n = rid.rsplit("-", 1)
                sd, sn = ls["id"].rsplit("-", 1)
                if d < sd or int(n) < int(sn):
                    return {"id": rid, "status": "succeeded"}
            return None
