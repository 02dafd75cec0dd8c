"""Storage directories of the stand-in (dataplane-api-v3.md section 7): maps, SSL certificates and general
files under <dir>/maps, <dir>/ssl, <dir>/general, with upstream's name sanitising, create-never-overwrites
(409), 404 for missing files, 409 when the current config still references a file, and the certificate
metadata read with `openssl x509`. Not for: deciding on reloads or status codes of PUT (sim.py does)."""
import os
import re
import subprocess
import time

from configuration import ApiError, write_atomic

# A storage file larger than this is not a map, certificate or error page we would push; it bounds memory.
FILE_MAX_BYTES = 64 * 1024 * 1024

KINDS = {
    "maps": {"dir": "maps", "description": "managed map file"},
    "ssl_certificates": {"dir": "ssl", "description": "managed SSL file"},
    "general": {"dir": "general", "description": "managed general use file"},
}

_RUN = re.compile(r"[^A-Za-z0-9_\-\\]+")


def sanitize(name):
    """Upstream's rule: split off the last extension; runs of other characters than A-Z a-z 0-9 _ - \\
    become one `_` in the base name and in the extension."""
    base, dot, ext = name.rpartition(".")
    if not dot:
        return _RUN.sub("_", name)
    return _RUN.sub("_", base) + "." + _RUN.sub("_", ext)


def _pem_ok(data):
    t = data.decode(errors="replace")
    has_cert = "-----BEGIN CERTIFICATE-----" in t
    has_key = re.search(r"-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----", t) is not None
    return has_cert and has_key


def _x509_time(s):
    t = time.strptime(s.strip(), "%b %d %H:%M:%S %Y GMT")
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


def cert_info(path):
    """Metadata of the first certificate in a PEM file, in the real API's field names."""
    p = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-serial", "-subject", "-issuer",
                        "-startdate", "-enddate", "-ext", "subjectAltName", "-nameopt", "multiline"],
                       capture_output=True, timeout=10)
    if p.returncode != 0:
        raise ApiError(500, "failed to parse certificate")
    info, section, cn = {}, None, {}
    for line in p.stdout.decode(errors="replace").splitlines():
        if line.startswith("serial="):
            info["serial"] = str(int(line.split("=", 1)[1], 16))
        elif line.startswith("subject="):
            section = "subject"
        elif line.startswith("issuer="):
            section = "issuer"
        elif line.startswith("notBefore="):
            info["not_before"] = _x509_time(line.split("=", 1)[1])
        elif line.startswith("notAfter="):
            info["not_after"] = _x509_time(line.split("=", 1)[1])
        elif "Subject Alternative Name" in line:
            section = "san"
        elif section in ("subject", "issuer") and "commonName" in line:
            cn[section] = line.split("=", 1)[1].strip()
        elif section == "san" and line.strip():
            dns = [x.strip()[4:] for x in line.split(",") if x.strip().startswith("DNS:")]
            ips = [x.strip()[11:] for x in line.split(",") if x.strip().startswith("IP Address:")]
            info["_dns"], info["_ip"] = dns, ips
            section = None
    domains = ([cn["subject"]] if "subject" in cn else []) + \
        [d for d in info.pop("_dns", []) if d != cn.get("subject")]
    ips = info.pop("_ip", [])
    if "subject" in cn:
        info["subject"] = cn["subject"]
    if "issuer" in cn:
        info["issuers"] = cn["issuer"]
    if domains:
        info["domains"] = ", ".join(domains)
    if ips:
        info["ip_addresses"] = ", ".join(ips)
    return info


class Storage:
    def __init__(self, root):
        self.root = root
        self.dirs = {}
        for kind, k in KINDS.items():
            d = os.path.join(root, k["dir"])
            os.makedirs(d, exist_ok=True)
            self.dirs[kind] = d

    def path(self, kind, name):
        return os.path.join(self.dirs[kind], sanitize(name))

    def _obj(self, kind, name, size=None):
        o = {"description": KINDS[kind]["description"], "file": os.path.join(self.dirs[kind], name),
             "storage_name": name}
        if size is not None:
            o["size"] = size
        return o

    def list(self, kind):
        out = []
        for name in sorted(os.listdir(self.dirs[kind])):
            p = os.path.join(self.dirs[kind], name)
            if name.startswith(".tmp-") or not os.path.isfile(p):
                continue
            if kind == "ssl_certificates":
                with open(p, "rb") as f:
                    if not _pem_ok(f.read()):
                        continue  # upstream silently omits files that are not cert + key
            out.append(self._obj(kind, name))
        return out

    def _existing(self, kind, name):
        p = self.path(kind, name)
        if not os.path.isfile(p):
            raise ApiError(404, "missing object: file %s doesn't exist in dir: %s" % (sanitize(name),
                                                                                     self.dirs[kind]))
        return p

    def read(self, kind, name):
        with open(self._existing(kind, name), "rb") as f:
            return f.read()

    def describe(self, kind, name):
        p = self._existing(kind, name)
        o = self._obj(kind, os.path.basename(p), os.path.getsize(p))
        if kind == "ssl_certificates":
            o.update(cert_info(p))
        return o

    def _check(self, kind, data):
        if len(data) > FILE_MAX_BYTES:
            raise ApiError(413, "file too large")
        if kind == "ssl_certificates" and not _pem_ok(data):
            raise ApiError(500, "file should contain both certificate and private key")

    def create(self, kind, filename, data):
        name = sanitize(filename)
        if kind == "maps" and not name.endswith(".map"):
            name += ".map"
        p = os.path.join(self.dirs[kind], name)
        if os.path.exists(p):
            raise ApiError(409, "object already exists: file %s already exists" % p)
        self._check(kind, data)
        write_atomic(p, data)
        o = self._obj(kind, name, len(data))
        if kind == "maps":
            o["description"] = "managed but not loaded map file (no runtime ID)"
        if kind == "ssl_certificates":
            o.update(cert_info(p))
        return o

    def replace(self, kind, name, data):
        p = self._existing(kind, name)
        self._check(kind, data)
        write_atomic(p, data)
        o = self._obj(kind, os.path.basename(p), len(data))
        if kind == "ssl_certificates":
            o.update(cert_info(p))
        return o

    def delete(self, kind, name, config):
        p = self._existing(kind, name)
        ref = config.references(p)
        if ref:
            raise ApiError(409, "rejecting attempt to delete file %s referenced in haproxy conf at line "
                                "%d: %s" % (p, ref[0], ref[1].strip()))
        os.unlink(p)
