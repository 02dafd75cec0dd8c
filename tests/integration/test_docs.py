#!/usr/bin/python3
"""The docs against what they describe.

CHANGELOG.md has the Keep a Changelog 1.1.0 structure: the title, a preamble naming keepachangelog.com
1.1.0 and Semantic Versioning, `## [Unreleased]` first, then releases as `## [X.Y.Z] - YYYY-MM-DD`
(newest first); under each release only `###` sections of the six kinds the format defines, each once and
none empty; every entry a `- ` bullet inside a section (a bullet straight under a release, the flat list
parallel branches may add, fails). Not for the wording of the entries.

docs/operations/*.md name only what the code has: every `haproxy_ic_*` metric outside code blocks is one
the C sources register; every entry of a table whose first column is "line" starts a message the code logs
(log_* or the supervisor's commentator phrases); every `leader_election.x` / `config.x` / `pipeline.x` /
`deploy.x` field is in the /debug/vars of a running replica (the API simulator, leader election on, one
local target); the alert table of high-availability.md names exactly the alerts of the rules file, each
with a series its expression reads."""
import json
import os
import re
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CHANGELOG = os.path.join(h.SOURCE_ROOT, "CHANGELOG.md")
OPS = [os.path.join(h.SOURCE_ROOT, "docs", "operations", n) for n in ("high-availability.md", "troubleshooting.md")]
RULES = os.path.join(h.SOURCE_ROOT, "deploy", "prometheus", "haproxy-template-ic-rules.yaml")
VARS_SECTIONS = ("leader_election", "config", "pipeline", "deploy", "ipc")
KINDS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
RELEASE = re.compile(r"^## \[(Unreleased|\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\](?: - (\d{4}-\d{2}-\d{2}))?$")


def problems(text):
    """Every structural problem of a changelog's text, as 'line N: what'."""
    out = []
    lines = text.split("\n")
    if not lines or lines[0] != "# Changelog":
        out.append("line 1: the title must be '# Changelog'")
    first_release = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
    preamble = "\n".join(lines[1:first_release])
    if "keepachangelog.com/en/1.1.0" not in preamble or "semver.org" not in preamble:
        out.append("preamble: must link Keep a Changelog 1.1.0 and Semantic Versioning")
    releases, release, section, in_list = [], None, None, False
    counts = {}

    def close_section(n):
        if section and counts.get((release, section), 0) == 0:
            out.append(f"line {n}: section '{section}' of [{release}] is empty")

    def close_release(n):
        close_section(n)
        if release and not any(r == release for r, _ in counts):
            out.append(f"line {n}: release [{release}] has no section")

    for n, line in enumerate(lines, 1):
        if line.startswith("#"):
            in_list = False
            if line.startswith("### "):
                kind = line[4:]
                if release is None:
                    out.append(f"line {n}: '{line}' before any release")
                elif kind not in KINDS:
                    out.append(f"line {n}: '{kind}' is not one of {', '.join(KINDS)}")
                elif (release, kind) in counts:
                    out.append(f"line {n}: a second '{kind}' in [{release}]")
                close_section(n)
                section = kind
                counts.setdefault((release, kind), 0)
            elif line.startswith("## "):
                close_release(n)
                m = RELEASE.match(line)
                if not m:
                    out.append(f"line {n}: '{line}' is not '## [Unreleased]' or '## [X.Y.Z] - YYYY-MM-DD'")
                    release = line
                else:
                    release = m.group(1)
                    if (release == "Unreleased") != (m.group(2) is None):
                        out.append(f"line {n}: only [Unreleased] goes without a date")
                releases.append(release)
                section = None
            elif n != 1:
                out.append(f"line {n}: heading '{line}' is not a release or a section")
        elif line.startswith("- "):
            if section is None:
                out.append(f"line {n}: an entry outside a '###' section" +
                           (f" (straight under [{release}])" if release else ""))
            else:
                counts[(release, section)] += 1
            in_list = True
        elif line.startswith("  ") and line.strip():
            if not in_list:
                out.append(f"line {n}: indented text outside an entry")
        elif line.strip():
            if release is not None:
                out.append(f"line {n}: text that is not an entry: {line[:60]!r}")
    close_release(len(lines))
    if not releases or releases[0] != "Unreleased":
        out.append("the first release must be '## [Unreleased]'")
    if releases.count("Unreleased") > 1:
        out.append("more than one [Unreleased]")
    versions = [tuple(int(x) for x in r.split("-")[0].split(".")) for r in releases if r[:1].isdigit()]
    if versions != sorted(versions, reverse=True) or len(set(versions)) != len(versions):
        out.append(f"releases not newest first, or repeated: {releases}")
    return out


def test_the_changelog_has_the_keep_a_changelog_structure(tmp):
    found = problems(h.open_text(CHANGELOG))
    assert not found, "\n".join(found)


GOOD = """# Changelog

Follows [Keep a Changelog](https://keepachangelog.com/en/1.1.0/) and [SemVer](https://semver.org/).

## [Unreleased]

### Added

- a thing
  on two lines

## [1.0.0] - 2026-01-02

### Fixed

- a fix
"""


def test_the_check_finds_each_kind_of_problem(tmp):
    assert problems(GOOD) == [], problems(GOOD)
    bad = {
        "a flat entry": GOOD.replace("### Added\n\n", ""),
        "an unknown section": GOOD.replace("### Added", "### Improvements"),
        "an empty section": GOOD.replace("### Added\n", "### Added\n\n### Changed\n"),
        "a section twice": GOOD.replace("  on two lines\n", "  on two lines\n\n### Added\n\n- more\n"),
        "a release without a date": GOOD.replace(" - 2026-01-02", ""),
        "Unreleased not first": GOOD.replace("## [Unreleased]", "## [2.0.0] - 2026-02-02"),
        "no format link": GOOD.replace("keepachangelog.com/en/1.1.0/", "example.com"),
        "a stray heading": GOOD.replace("### Fixed", "#### Fixed"),
        "an older release first": GOOD.replace("## [Unreleased]", "## [Unreleased]\n\n### Added\n\n- x\n\n"
                                               "## [0.9.0] - 2025-01-01"),
    }
    for what, text in bad.items():
        assert problems(text), f"not found: {what}"


def prose(path):
    """The text of a Markdown file without its fenced code blocks."""
    return re.sub(r"^ *```.*?^ *```", "", h.open_text(path), flags=re.M | re.S)


def spans(text):
    return re.findall(r"`([^`\n]+)`", text)


def table_rows(text, first_header):
    """The cells of every row of the tables whose first header cell is first_header."""
    rows, on = [], False
    for line in text.split("\n"):
        if not line.startswith("|"):
            on = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == first_header:
            on = True
        elif on and not set(cells[0]) <= set("-: "):
            rows.append(cells)
    return rows


def logged_messages():
    """Every message the C sources log: the first literal of log_*(...) and the commentator's phrases."""
    msgs = h.source_matches(r'log_(?:debug|info|warn|error)\(\s*"((?:[^"\\]|\\.)*)"')
    msgs |= h.source_matches(r'\{"[A-Za-z]+", LOG_LEVEL_[A-Z]+, "((?:[^"\\]|\\.)*)"\}')
    return msgs


def test_operations_docs_name_metrics_and_log_lines_the_code_has(tmp):
    metrics = h.source_matches(r'"(haproxy_ic_[a-z_]+)"')
    msgs = logged_messages()
    assert len(metrics) > 20 and len(msgs) > 50, (len(metrics), len(msgs))
    problems = []
    for path in OPS:
        text = prose(path)
        for span in spans(text):
            for name in re.findall(r"\bhaproxy_ic_[a-z_]+", span):
                if name not in metrics:
                    problems.append(f"{os.path.basename(path)}: no metric {name}")
        for row in table_rows(text, "line"):
            for line in spans(row[0]):
                if not any(m.startswith(line) for m in msgs):
                    problems.append(f"{os.path.basename(path)}: no log line starts {line!r}")
    assert not problems, "\n".join(problems)


def debug_vars_fields(path):
    return sorted({s for s in spans(prose(path)) if re.fullmatch(r"(%s)\.[a-z_.]+" % "|".join(VARS_SECTIONS), s)})


def test_operations_docs_name_debug_vars_fields_a_replica_reports(tmp):
    import test_docs_commands as dc  # the simulator and one replica holding the Lease
    wanted = [(os.path.basename(p), f) for p in OPS for f in debug_vars_fields(p)]
    assert len(wanted) > 5, wanted
    def missing_in(v):
        out = []
        for doc, field in wanted:
            o = v
            for key in field.split("."):
                o = o[0] if isinstance(o, list) and o else o
                if not isinstance(o, dict) or key not in o:
                    out.append(f"{doc}: /debug/vars has no {field}")
                    break
                o = o[key]
        return out

    cluster = dc.Cluster(tmp)
    seen = []
    try:
        def complete():   # the roles report a moment after they start: wait until every report came in
            seen[:] = [json.loads(urllib.request.urlopen(f"http://127.0.0.1:{cluster.port}/debug/vars",
                                                         timeout=5).read())]
            return not missing_in(seen[0])
        try:
            h.wait_for(complete, timeout=30, what="every field the docs name in /debug/vars")
        except AssertionError:
            pass
    finally:
        cluster.stop()
    missing = missing_in(seen[0])
    assert not missing, "\n".join(missing) + f"\n{json.dumps(seen[0])[:3000]}"


def test_the_alert_table_is_the_rules_file(tmp):
    import yaml
    with open(RULES) as f:
        rules = {r["alert"]: r for g in yaml.safe_load(f)["groups"] for r in g["rules"] if "alert" in r}
    rows = table_rows(prose(OPS[0]), "alert")
    named = {spans(r[0])[0]: r for r in rows}
    assert set(named) == set(rules), (sorted(set(rules) - set(named)), sorted(set(named) - set(rules)))
    for alert, row in named.items():
        series = spans(row[2])
        assert series and all(s in rules[alert]["expr"] for s in series), (alert, series, rules[alert]["expr"])
        assert row[3] == rules[alert]["labels"]["severity"], (alert, row[3])


if __name__ == "__main__":
    h.run([
        test_the_changelog_has_the_keep_a_changelog_structure,
        test_the_check_finds_each_kind_of_problem,
        test_operations_docs_name_metrics_and_log_lines_the_code_has,
        test_operations_docs_name_debug_vars_fields_a_replica_reports,
        test_the_alert_table_is_the_rules_file,
    ])
