#!/usr/bin/env python
"""Is this checkout ready to be released as TAG? (.github/workflows/release.yaml, tests/test_release.py)

The version lives in one place, `version` in settings.ini. setup.py reads it from there for the
sdist and the wheel; `nbdev_export` (and `nbdev_bump_version`) write it into ddpm_nb/__init__.py as
`__version__` (settings.ini: put_version_in_init). CHANGELOG.md has one `## X.Y.Z (YYYY-MM-DD)`
section per release, newest first, under an optional `## Unreleased` section; the newest release
section is the current version, `(not yet released)` in place of the date until the day it is tagged.

    python tools/release_check.py v0.1.0           # exit 1, naming every problem, unless ready
    python tools/release_check.py --notes v0.1.0   # print that version's changelog section
"""
import os, re, sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNRELEASED = 'Unreleased'
NOT_YET = 'not yet released'
# `## Unreleased`, `## 0.1.0 (not yet released)` or `## 0.1.0 (2026-12-08)`
HEADING = re.compile(rf'^## (?:({UNRELEASED})|(\d+\.\d+\.\d+\S*) \(({NOT_YET}|\d{{4}}-\d\d-\d\d)\))\s*$')


def settings_version(root=ROOT) -> str:
    "The package version: `version` in settings.ini, the only place it is written by hand."
    cfg = ConfigParser(delimiters=['='])
    cfg.read(Path(root)/'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']['version']


def init_version(root=ROOT) -> str:
    "`__version__` as nbdev_export wrote it into ddpm_nb/__init__.py ('' when missing)."
    m = re.search(r'^__version__\s*=\s*"([^"]*)"', (Path(root)/'ddpm_nb'/'__init__.py').read_text(), re.M)
    return m[1] if m else ''


def changelog_sections(root=ROOT) -> list:
    "[(name, date, body)] of CHANGELOG.md's `## ` sections in file order (name: a version or Unreleased)."
    lines, out = (Path(root)/'CHANGELOG.md').read_text(encoding='utf-8').splitlines(), []
    for line in lines:
        if line.startswith('## '):
            m = HEADING.match(line)
            if not m:
                raise ValueError(f'CHANGELOG.md: heading {line!r} is neither `## {UNRELEASED}` nor '
                                 f'`## X.Y.Z (YYYY-MM-DD)` / `## X.Y.Z ({NOT_YET})`')
            out.append([m[1] or m[2], m[3], []])
        elif out:
            out[-1][2].append(line)
    return [(name, date, '\n'.join(body).strip()) for name, date, body in out]


def newest_release(root=ROOT) -> tuple:
    "(version, date) of the first section that is not `Unreleased`."
    secs = [s for s in changelog_sections(root) if s[0] != UNRELEASED]
    return secs[0][:2] if secs else ('', None)


def problems(tag:str, root=ROOT) -> list:
    "Why `tag` cannot be released from `root` (empty when it can)."
    v, out = settings_version(root), []
    if tag != f'v{v}':
        out.append(f'tag {tag!r} is not v + the version in settings.ini (v{v})')
    if init_version(root) != v:
        out.append(f'ddpm_nb/__init__.py has __version__ {init_version(root)!r}, settings.ini {v!r}: '
                   'run nbdev_export')
    names = [s[0] for s in changelog_sections(root)]
    if UNRELEASED in names[1:]:
        out.append(f'CHANGELOG.md: `## {UNRELEASED}` is not the first section')
    if names.count(v) > 1:
        out.append(f'CHANGELOG.md: more than one section for {v}')
    newest, date = newest_release(root)
    if newest != v:
        out.append(f'CHANGELOG.md: the newest release section is {newest!r}, not {v!r}')
    elif date == NOT_YET:
        out.append(f'CHANGELOG.md: `## {v} ({NOT_YET})` needs the release date in place of "{NOT_YET}"')
    return out


def notes(tag:str, root=ROOT) -> str:
    "The body of the changelog section of `tag`'s version (the GitHub release's text)."
    v = tag.removeprefix('v')
    bodies = {name: body for name, _, body in changelog_sections(root)}
    if v not in bodies:
        raise KeyError(f'CHANGELOG.md has no section for {v}')
    return bodies[v]


def main(args:list) -> int:
    if len(args) == 2 and args[0] == '--notes':
        print(notes(args[1]))
        return 0
    if len(args) != 1:
        print(__doc__)
        return 2
    found = problems(args[0])
    # on GitHub Actions, `::error::` lines show up as annotations on the run's page
    prefix = '::error::' if os.environ.get('GITHUB_ACTIONS') else ''
    for p in found:
        print(prefix + p)
    if not found:
        print(f'{args[0]}: ready to release')
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
