"""Faults the tests inject into the stand-in through its control port: refuse the next reloads, hold
reloads (so `in_progress` can be observed without timing), delay answers, answer 5xx, drop connections
without an answer, make the runtime certificate push fail (the 202 branch of SSL storage). Every rule can be
narrowed to a path prefix and a method. Not for: anything the real server does by itself."""
import threading

# An injected delay longer than this is a mistake in a test (the client's own timeouts are seconds).
LATENCY_MAX_MS = 120_000


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.latency_ms = 0
            self.latency_path = ""
            self.errors = None          # {"count", "code", "path", "method"}
            self.drops = None           # {"count", "path", "method"}
            self.fail_reloads = 0
            self.held = False
            self.ssl_runtime_fails = False
            self.runtime_server_state_only = False

    def set(self, body):
        """Applies a POST /faults body; raises ValueError on a bad one."""
        with self.lock:
            for k, v in body.items():
                if k == "latency_ms":
                    v = int(v)
                    if not 0 <= v <= LATENCY_MAX_MS:
                        raise ValueError("latency_ms out of range")
                    self.latency_ms = v
                elif k == "latency_path":
                    self.latency_path = str(v)
                elif k == "errors":
                    code = int(v.get("code", 500))
                    if not 500 <= code <= 599:
                        raise ValueError("errors.code must be a 5xx")
                    self.errors = {"count": int(v.get("count", 1)), "code": code,
                                   "path": v.get("path", ""), "method": v.get("method", "")}
                elif k == "drop":
                    self.drops = {"count": int(v.get("count", 1)), "path": v.get("path", ""),
                                  "method": v.get("method", "")}
                elif k == "fail_reloads":
                    self.fail_reloads = int(v)
                elif k == "hold_reloads":
                    self.held = bool(v)
                elif k == "ssl_runtime_fails":
                    self.ssl_runtime_fails = bool(v)
                elif k == "runtime_server_state_only":
                    self.runtime_server_state_only = bool(v)
                else:
                    raise ValueError("unknown fault %r" % k)

    @staticmethod
    def _match(rule, method, path):
        return rule and rule["count"] > 0 and path.startswith(rule["path"]) and \
            (not rule["method"] or rule["method"].upper() == method)

    def for_request(self, method, path):
        """(latency seconds, drop?, error code or 0) for one API request; consumes counted rules."""
        with self.lock:
            lat = self.latency_ms / 1000.0 if path.startswith(self.latency_path) else 0.0
            if self._match(self.drops, method, path):
                self.drops["count"] -= 1
                return lat, True, 0
            if self._match(self.errors, method, path):
                self.errors["count"] -= 1
                return lat, False, self.errors["code"]
            return lat, False, 0

    def take_reload_failure(self):
        with self.lock:
            if self.fail_reloads > 0:
                self.fail_reloads -= 1
                return True
            return False

    def hold_reloads(self):
        with self.lock:
            return self.held

    def ssl_runtime_broken(self):
        with self.lock:
            return self.ssl_runtime_fails

    def server_put_state_only(self):
        with self.lock:
            return self.runtime_server_state_only

    def snapshot(self):
        with self.lock:
            return {"latency_ms": self.latency_ms, "latency_path": self.latency_path, "errors": self.errors,
                    "drop": self.drops, "fail_reloads": self.fail_reloads, "hold_reloads": self.held,
                    "ssl_runtime_fails": self.ssl_runtime_fails,
                    "runtime_server_state_only": self.runtime_server_state_only}
