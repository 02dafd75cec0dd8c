#!/usr/bin/python3
"""CHANGELOG.md has the Keep a Changelog 1.1.0 structure: the title, a preamble naming keepachangelog.com
1.1.0 and Semantic Versioning, `## [Unreleased]` first, then releases as `## [X.Y.Z] - YYYY-MM-DD`
(newest first); under each release only `###` sections of the six kinds the format defines, each once and
none empty; every entry a `- ` bullet inside a section (a bullet straight under a release, the flat list
parallel branches may add, fails). Not for the wording of the entries."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CHANGELOG = os.path.join(h.SOURCE_ROOT, "CHANGELOG.md")
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


if __name__ == "__main__":
    h.run([
        test_the_changelog_has_the_keep_a_changelog_structure,
        test_the_check_finds_each_kind_of_problem,
    ])
