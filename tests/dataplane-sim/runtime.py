"""Runtime endpoints of the stand-in (dataplane-api-v3.md section 8.1 and 8.3), done on the current worker
through the master CLI (`@1 ...`): servers of a backend (read, and PUT of admin_state, operational_state,
weight, address, port as dataplaneapi 3.3.1+ does) and runtime maps (list, entries, add/replace/delete, a
whole-map replace). Nothing here writes haproxy.cfg or changes the version. Not for: storage (storage.py)."""
import os

import master_cli
from configuration import ApiError, write_atomic

# Upstream switches from `add map` per entry to prepare/add @ver/commit above this payload size.
MAP_BULK_THRESHOLD_BYTES = 8 * 1024
# One `add map @ver <<` payload stays under HAProxy's 16 KB buffer (tune.bufsize), with room for the command.
MAP_CHUNK_BYTES = 8 * 1024

# srv_admin_state bits (HAProxy's SRV_ADMF_*): forced, inherited and resolution maintenance; drains.
ADMF_MAINT = 0x01 | 0x02 | 0x20
ADMF_DRAIN = 0x08 | 0x10
OP_STATES = {0: "down", 1: "up", 2: "up", 3: "stopping"}
ADMIN_STATES = ("ready", "maint", "drain")
OPERATIONAL_STATES = ("up", "down", "stopping")


def _cli(sock, cmd, payload=None):
    try:
        return master_cli.worker(sock, cmd, payload).strip()
    except master_cli.MasterCliError as e:
        raise ApiError(500, str(e)) from e


def _cli_error(out, backend, name):
    if out.startswith("No such backend") or out.startswith("Can't find backend"):
        raise ApiError(404, "No such backend")
    if out.startswith("No such server"):
        raise ApiError(404, "Runtime server %s not found in backend %s" % (name, backend))
    raise ApiError(500, out)


class Runtime:
    def __init__(self, master_sock, maps_dir):
        self.sock = master_sock
        self.maps_dir = maps_dir

    # ---- servers ----
    def servers(self, backend):
        out = _cli(self.sock, "show servers state " + backend)
        if out.startswith("Can't find backend"):
            raise ApiError(404, "No such backend")
        res = []
        for line in out.splitlines():
            f = line.split()
            if line.startswith("#") or len(f) < 19:
                continue
            admin = int(f[6])
            res.append({"name": f[3], "id": f[2], "address": f[4], "port": int(f[18]),
                        "admin_state": "maint" if admin & ADMF_MAINT else
                        "drain" if admin & ADMF_DRAIN else "ready",
                        "operational_state": OP_STATES.get(int(f[5]), "down"), "weight": int(f[7])})
        return res

    def server(self, backend, name):
        for s in self.servers(backend):
            if s["name"] == name:
                return s
        raise ApiError(404, "Runtime server %s not found in backend %s" % (name, backend))

    def set_server(self, backend, name, body):
        cur = self.server(backend, name)
        if not isinstance(body, dict):
            raise ApiError(422, "body must be a runtime_server object")
        for k, allowed in (("admin_state", ADMIN_STATES), ("operational_state", OPERATIONAL_STATES)):
            if k in body and body[k] not in allowed:
                raise ApiError(422, "%s in body should be one of %s" % (k, list(allowed)))
        target = "%s/%s" % (backend, name)
        cmds = []
        if body.get("operational_state") and body["operational_state"] != cur["operational_state"]:
            cmds.append("set server %s health %s" % (target, body["operational_state"]))
        if body.get("admin_state") and body["admin_state"] != cur["admin_state"]:
            cmds.append("set server %s state %s" % (target, body["admin_state"]))
        if "weight" in body and body["weight"] != cur["weight"]:
            cmds.append("set server %s weight %d" % (target, int(body["weight"])))
        addr = body.get("address", cur["address"])
        port = body.get("port", cur["port"])
        if addr != cur["address"] or port != cur["port"]:
            cmds.append("set server %s addr %s port %d" % (target, addr, int(port)))
        for c in cmds:
            self.command_ok(c, backend, name)
        return self.server(backend, name)

    def command_ok(self, cmd, backend="", name=""):
        out = _cli(self.sock, cmd)
        if out and not out.startswith("IP changed") and not out.startswith("no need to change") \
                and not out.startswith("port changed"):
            _cli_error(out, backend, name)

    # ---- maps ----
    def map_file(self, name):
        if not name.endswith(".map"):
            name += ".map"
        return os.path.join(self.maps_dir, name)

    def maps(self, include_unmanaged=False):
        res = []
        for line in _cli(self.sock, "show map").splitlines():
            if line.startswith("#") or "(" not in line:
                continue
            mid, rest = line.split(" ", 1)
            path = rest[1:rest.index(")")]
            if not include_unmanaged and os.path.dirname(path) != self.maps_dir:
                continue
            res.append({"id": mid, "file": path, "description": rest[rest.index(")") + 2:],
                        "storage_name": os.path.basename(path)})
        return res

    def map(self, name):
        f = self.map_file(name)
        for m in self.maps(True):
            if m["file"] == f:
                return m
        raise ApiError(404, "map %s not loaded" % name)

    def entries(self, name):
        f = self.map(name)["file"]
        res = []
        for line in _cli(self.sock, "show map " + f).splitlines():
            p = line.split(" ", 2)
            if len(p) >= 2:
                # upstream's parser keeps only the first word of the value
                res.append({"id": p[0], "key": p[1], "value": p[2].split(" ")[0] if len(p) > 2 else ""})
        return res

    def entry(self, name, key):
        for e in self.entries(name):
            if e["key"] == key:
                return {"key": e["key"], "value": e["value"]}
        raise ApiError(404, "key %s not found in map %s" % (key, name))

    def _map_cmd(self, cmd, payload=None):
        out = _cli(self.sock, cmd, payload)
        if out and not out.startswith("New version created"):
            code = 404 if "not found" in out.lower() else 400
            raise ApiError(code, out)
        return out

    def add_entry(self, name, key, value):
        f = self.map(name)["file"]
        if any(e["key"] == key for e in self.entries(name)):
            raise ApiError(409, "key %s already exists in map %s" % (key, name))
        self._map_cmd("add map %s %s %s" % (f, key, value))

    def set_entry(self, name, key, value):
        self.entry(name, key)
        self._map_cmd("set map %s %s %s" % (self.map(name)["file"], key, value))

    def del_entry(self, name, key):
        self.entry(name, key)
        self._map_cmd("del map %s %s" % (self.map(name)["file"], key))

    def replace(self, name, pairs):
        """Upstream: a small payload is appended entry by entry, a large one replaces the map atomically."""
        f = self.map(name)["file"]
        lines = ["%s %s" % (p["key"], p["value"]) for p in pairs]
        if sum(len(x) + 1 for x in lines) <= MAP_BULK_THRESHOLD_BYTES:
            for x in lines:
                self._map_cmd("add map %s %s" % (f, x))
            return
        out = self._map_cmd("prepare map " + f)
        ver = out.rsplit(":", 1)[1].strip()
        chunk = []
        size = 0
        for x in lines + [None]:
            if x is None or size + len(x) + 1 > MAP_CHUNK_BYTES:
                if chunk:
                    self._map_cmd("add map @%s %s" % (ver, f), "\n".join(chunk))
                chunk, size = [], 0
            if x is not None:
                chunk.append(x)
                size += len(x) + 1
        self._map_cmd("commit map @%s %s" % (ver, f))

    def clear(self, name):
        self._map_cmd("clear map " + self.map(name)["file"])

    def sync_file(self, name):
        """force_sync: the map file gets what the running HAProxy holds."""
        f = self.map(name)["file"]
        text = "".join("%s %s\n" % (e["key"], e["value"]) for e in self.entries(name))

        write_atomic(f, text)
