"""The managed haproxy.cfg and its version model (dataplane-api-v3.md section 2): the stored file starts
with `# _md5hash=<md5 of the rest>` and `# _version=N`; a versioned write must name the current version
(409 otherwise), bumps it by one, and is validated with `haproxy -c` before it replaces the file. Also the
deployer's identity line `# haproxy-template-ic term=... generation=... checksum=...` read for the audit.
Not for: reloading (reloads.py) or HTTP (sim.py). Unlike the real server the text is not re-serialised
into canonical section order: it is stored as sent, minus the metadata lines."""
import hashlib
import os
import re
import subprocess
import tempfile
import threading

# haproxy -c of a 1k-backend config takes ~0.1 s; a minute means something is wrong with the machine.
VALIDATE_TIMEOUT_S = 60
# Validation messages go back to the client; HAProxy prints one ALERT per error, a few KB at most.
MESSAGE_MAX_BYTES = 16 * 1024

META_RE = re.compile(r"^# _(md5hash|version)=.*$")
IDENT_RE = re.compile(r"^#\s*haproxy-template-ic\s+(.*)$")


class ApiError(Exception):
    """An error with the status and message the real server would answer."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def split_meta(text):
    """(version or None, body without metadata lines)."""
    version, out = None, []
    for line in text.splitlines(keepends=True):
        m = META_RE.match(line.rstrip("\r\n"))
        if m:
            if m.group(1) == "version":
                try:
                    version = int(line.split("=", 1)[1])
                except ValueError:
                    pass
            continue
        out.append(line)
    return version, "".join(out)


def identity(text):
    """term, generation and checksum from the first `# haproxy-template-ic k=v ...` comment line."""
    for line in text.splitlines():
        s = line.strip()
        if not s.startswith("#"):
            if s:
                break
            continue
        m = IDENT_RE.match(s)
        if m:
            out = {}
            for kv in m.group(1).split():
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    out[k] = v
            return {"term": out.get("term"), "generation": out.get("generation"),
                    "checksum": out.get("checksum")}
    return {"term": None, "generation": None, "checksum": None}


def render(version, body):
    rest = "# _version=%d\n%s" % (version, body)
    return "# _md5hash=%s\n%s" % (hashlib.md5(rest.encode()).hexdigest(), rest)


def checksum(stored):
    """Configuration-Checksum: MD5 of the stored file minus its first line."""
    rest = stored.split("\n", 1)[1] if "\n" in stored else ""
    return hashlib.md5(rest.encode()).hexdigest()


def write_atomic(path, data):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Configuration:
    def __init__(self, path, haproxy_bin="haproxy"):
        self.path = path
        self.haproxy = haproxy_bin
        self.lock = threading.Lock()   # serialises commits, as the real server does
        with open(path) as f:
            v, body = split_meta(f.read())
        self.version = v if v is not None else 1
        self.stored = render(self.version, body)
        write_atomic(path, self.stored)

    def read(self):
        """(version in memory, file as on disk): after a failed reload the file is the last-known-good
        one while the version is not rolled back, as upstream."""
        with self.lock:
            with open(self.path) as f:
                return self.version, f.read()

    def validate(self, text):
        """Runs haproxy -c on text in the config's directory (relative paths resolve the same way)."""
        d = os.path.dirname(self.path)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".validate-", suffix=".cfg")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            p = subprocess.run([self.haproxy, "-c", "-f", tmp], cwd=d, capture_output=True,
                               timeout=VALIDATE_TIMEOUT_S)
            if p.returncode != 0:
                out = (p.stdout + p.stderr).decode(errors="replace")
                out = "".join(ln for ln in out.splitlines(keepends=True) if "[NOTICE]" not in ln)
                out = out[:MESSAGE_MAX_BYTES]
                raise ApiError(400, "validation error: exit status %d: %s" % (p.returncode, out))
        finally:
            os.unlink(tmp)

    def push(self, text, version, skip_version):
        """Validates and stores a raw push; returns (new version, stored text). Raises ApiError."""
        with self.lock:
            if not skip_version:
                if not version:
                    raise ApiError(400, "version or transaction not specified: version or transaction "
                                        "not specified, specify only one")
                if version != self.version:
                    raise ApiError(409, "version mismatch: version in configuration file is %d, given "
                                        "version is %d" % (self.version, version))
            own, body = split_meta(text)
            new_version = (own if own is not None else 1) if skip_version else self.version + 1
            stored = render(new_version, body)
            self.validate(stored)
            write_atomic(self.path, stored)
            self.version, self.stored = new_version, stored
            return new_version, stored

    def only_validate(self, text):
        _, body = split_meta(text)
        self.validate(body)

    def references(self, abs_path):
        """(line number, line) of the first non-comment line of the current config naming abs_path."""
        _, text = self.read()
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip().startswith("#"):
                continue
            if abs_path in line:
                return n, line
        return None
