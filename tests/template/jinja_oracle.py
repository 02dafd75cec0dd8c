"""The oracle side of the template conformance tests: a Jinja2 environment configured like the original
controller (trim_blocks, lstrip_blocks, loopcontrols) plus its custom filters, written here as Jinja filters
so that both engines run the very same case. Also used by the benchmark."""
import base64
import fnmatch
import re

import jinja2


class TemplateFail(Exception):
    pass


def _fail(message="fail() called"):
    raise TemplateFail(str(message))


def _b64encode(value):
    return base64.b64encode(str(value).encode("utf-8")).decode("ascii")


def _b64decode(value):
    return base64.b64decode(str(value)).decode("utf-8")


def _regex_search(value, pattern):
    m = re.search(pattern, str(value))
    return m.group(0) if m else None


def _regex_replace(value, pattern, replacement):
    return re.sub(pattern, replacement, str(value))


def _glob_match(value, pattern):
    if isinstance(value, str):
        return fnmatch.fnmatchcase(value, pattern)
    return [v for v in value if fnmatch.fnmatchcase(str(v), pattern)]


def _strip(value, chars=None):
    return str(value).strip(chars)


def _lookup(obj, path):
    for part in path.split("."):
        if isinstance(obj, dict):
            if part not in obj:
                return jinja2.Undefined()
            obj = obj[part]
        elif isinstance(obj, (list, tuple)) and part.isdigit():
            i = int(part)
            if i >= len(obj):
                return jinja2.Undefined()
            obj = obj[i]
        else:
            return jinja2.Undefined()
    return obj


def _sort_by(value, keys):
    if isinstance(keys, str):
        keys = [keys]
    items = list(value)
    for key in reversed(list(keys)):
        if key.startswith("$."):
            key = key[2:]
        path, *mods = key.split(":")
        for m in mods:
            if m not in ("desc", "exists", "length"):
                raise ValueError("sort_by: unknown modifier " + m)

        def k(item, path=path, mods=mods):
            v = _lookup(item, path)
            missing = isinstance(v, jinja2.Undefined) or v is None
            if "exists" in mods:
                return not missing
            if "length" in mods:
                return 0 if isinstance(v, jinja2.Undefined) else len(v)
            return (0, 0) if missing else (1, v)

        items.sort(key=k, reverse="desc" in mods)
    return items


def make_env(loader, trim_blocks=True, lstrip_blocks=True, strict=False):
    env = jinja2.Environment(
        loader=loader,
        trim_blocks=trim_blocks,
        lstrip_blocks=lstrip_blocks,
        extensions=["jinja2.ext.loopcontrols"],
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
    )
    env.filters.update(
        b64decode=_b64decode,
        b64encode=_b64encode,
        regex_replace=_regex_replace,
        regex_search=_regex_search,
        glob_match=_glob_match,
        sort_by=_sort_by,
        strip=_strip,
    )
    env.globals["fail"] = _fail
    return env
