"""The stand-in's append-only audit: one JSON line per write request that reached a handler (time, term,
generation, checksum, endpoint, method, result, plus version, reload_id, user), flushed to the kernel per
line so a chaos checker can read it while the stand-in runs and a killed stand-in loses nothing. Never the password or the Authorization header.
Not for: reads, requests refused before auth, injected faults (they change nothing)."""
import datetime
import json
import threading


class Audit:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", buffering=1)

    def write(self, **entry):
        now = datetime.datetime.now(datetime.timezone.utc)
        line = {"time": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        line.update(entry)
        text = json.dumps(line, separators=(",", ":"), sort_keys=False) + "\n"
        with self.lock:
            self.f.write(text)
            self.f.flush()

    def close(self):
        with self.lock:
            self.f.close()
