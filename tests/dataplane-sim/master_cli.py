"""The HAProxy master CLI as the stand-in uses it: one command per connection on the master socket
(`-S <dir>/master.sock`), `show proc` parsed into master and worker rows, `@1 <cmd>` for the current worker.
Not a general runtime API client: no interactive mode, no TLS, no stats sockets."""
import socket

# A master CLI answer larger than this is not something the stand-in asks for (show map of a 100k-entry
# map is ~5 MB); bounding it keeps a runaway answer from eating memory.
ANSWER_MAX_BYTES = 64 * 1024 * 1024
# The master answers within milliseconds unless it is re-executing itself for a reload (then it does not
# accept at all); callers retry around that, so one command never waits long.
COMMAND_TIMEOUT_S = 10.0


class MasterCliError(Exception):
    pass


def command(sock_path, cmd, payload=None, timeout=COMMAND_TIMEOUT_S):
    """Sends one command (and an optional `<<` payload) and returns the whole answer as text."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        data = cmd
        if payload is not None:
            data += " <<\n" + payload
            if not payload.endswith("\n"):
                data += "\n"
            data += "\n"
        else:
            data += "\n"
        s.sendall(data.encode())
        s.shutdown(socket.SHUT_WR)  # the master answers and closes only once the client has finished
        chunks, total = [], 0
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
            total += len(b)
            if total > ANSWER_MAX_BYTES:
                raise MasterCliError("answer too large")
        return b"".join(chunks).decode(errors="replace")
    except OSError as e:
        raise MasterCliError("%s: %s" % (cmd.split()[0] if cmd else "?", e)) from e
    finally:
        s.close()


def worker(sock_path, cmd, payload=None):
    """A runtime command for the current worker, through the master (`@1 cmd`)."""
    return command(sock_path, "@1 " + cmd, payload)


def show_proc(sock_path):
    """Parses `show proc`: {"master": pid, "reloads": n, "failed": n, "workers": [{"pid", "reloads"}]}.
    Raises MasterCliError when the master does not answer (it is re-executing itself during a reload)."""
    text = command(sock_path, "show proc", timeout=2.0)
    out = {"master": None, "reloads": None, "failed": None, "workers": []}
    section = "master"
    for line in text.splitlines():
        if line.startswith("# workers"):
            section = "workers"
            continue
        if line.startswith("# programs"):
            section = "programs"
            continue
        if not line or line.startswith("#"):
            continue
        f = line.split()
        if section == "master" and len(f) >= 5 and f[1] == "master":
            out["master"] = int(f[0])
            out["reloads"] = int(f[2])
            out["failed"] = int(f[4].rstrip("]"))
        elif section == "workers" and len(f) >= 3 and f[1] == "worker":
            out["workers"].append({"pid": int(f[0]), "reloads": int(f[2])})
    if out["master"] is None:
        raise MasterCliError("show proc: no master row in %r" % text[:200])
    return out
