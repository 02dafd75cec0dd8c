"""HTTP Basic auth of the stand-in, as dataplaneapi checks it (dataplane-api-v3.md section 1.2): users given
as `name:password` (plaintext, upstream's `insecure: true`) or `name:$6$salt$hash` (crypt(3) with $1$, $5$ or
$6$ and exactly four `$` parts; other schemes never authenticate). Passwords are never logged or returned.
Not for: mTLS, userlists inside haproxy.cfg."""
import base64
import hmac
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # stdlib in Python 3.11 (bookworm); deprecated, kept for $1$/$5$/$6$ hashes

# An Authorization header longer than this is not Basic credentials we issued.
AUTH_HEADER_MAX = 4096


def parse_user(spec):
    name, sep, password = spec.partition(":")
    if not sep or not name:
        raise ValueError("a user is NAME:PASSWORD")
    return name, password


class Users:
    def __init__(self):
        self.users = {}

    def add(self, spec):
        name, password = parse_user(spec)
        self.users[name] = password

    def load(self, path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    self.add(line)

    @staticmethod
    def _match(stored, given):
        if stored.startswith("$"):
            parts = stored.split("$")
            if len(parts) != 4 or parts[1] not in ("1", "5", "6"):
                return False
            return hmac.compare_digest(crypt.crypt(given, stored) or "", stored)
        return hmac.compare_digest(stored.encode(), given.encode())

    def check(self, header):
        """(user or None, message for the 401)."""
        if not header or len(header) > AUTH_HEADER_MAX:
            return None, "unauthenticated for invalid credentials"
        scheme, _, b64 = header.partition(" ")
        if scheme.lower() != "basic":
            return None, "unauthenticated for invalid credentials"
        try:
            name, sep, password = base64.b64decode(b64.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, "unauthenticated for invalid credentials"
        if not sep or name not in self.users or not self._match(self.users[name], password):
            return None, "unauthorized"
        return name, ""
