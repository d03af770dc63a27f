"""The release story holds together: one version (settings.ini) that every other place agrees with, a changelog
whose newest release is that version, a release workflow that checks, builds, tests and publishes, and a deploy
workflow that describes the notebooks as they are. Fast: nothing is built here (tests/test_wheel.py builds)."""
import re, shutil, subprocess, sys

import pytest

from conftest import ROOT
from release_check import (NOT_YET, UNRELEASED, changelog_sections, init_version, newest_release, notes, problems,
                           settings_version)

WORKFLOWS = ROOT/'.github'/'workflows'
VERSION = settings_version()


def _workflow(name) -> dict:
    yaml = pytest.importorskip('yaml')  # only the workflow tests need it
    wf = yaml.safe_load((WORKFLOWS/name).read_text(encoding='utf-8'))
    wf['on'] = wf.pop(True, wf.get('on'))  # YAML 1.1 reads the key `on` as True
    return wf


def _runs(job) -> str:
    return '\n'.join(s.get('run', '') for s in job['steps'])


def _setup_version(root) -> str:
    r = subprocess.run([sys.executable, 'setup.py', '--version'], cwd=root, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.split()[-1]


def test_versions_agree(tmp_path):
    "settings.ini is the source; nbdev_export's __init__.py and setup.py's metadata say the same."
    assert re.fullmatch(r'\d+\.\d+\.\d+', VERSION), VERSION
    assert init_version() == VERSION, f'ddpm_nb/__init__.py says {init_version()!r}, settings.ini {VERSION!r}'
    assert re.findall(r'__version__', (ROOT/'ddpm_nb'/'__init__.py').read_text()) == ['__version__']
    assert _setup_version(ROOT) == VERSION
    # setup.py has no version of its own: another number in settings.ini is what it reports
    for f in ('setup.py', 'README.md'): shutil.copy(ROOT/f, tmp_path/f)
    ini = (ROOT/'settings.ini').read_text(encoding='utf-8')
    (tmp_path/'settings.ini').write_text(re.sub(r'^version = .*$', 'version = 9.8.7', ini, flags=re.M))
    assert _setup_version(tmp_path) == '9.8.7'
    assert not re.search(r'^\[project\]', (ROOT/'pyproject.toml').read_text(), re.M), 'a second version source'


def test_changelog_newest_release_is_this_version():
    secs = changelog_sections()
    assert secs, 'CHANGELOG.md has no sections'
    names = [s[0] for s in secs]
    assert UNRELEASED not in names[1:], f'`## {UNRELEASED}` must be the first section: {names}'
    assert newest_release()[0] == VERSION, f'newest release section {newest_release()}, version {VERSION}'
    assert len(set(names)) == len(names), names
    assert notes(f'v{VERSION}').strip(), 'the release text (its changelog section) is empty'
    # older releases are dated; only the current one may still say it is not yet released
    assert all(date not in (None, NOT_YET) for name, date, _ in secs[1:] if name != UNRELEASED), secs


def _copy_root(tmp_path):
    for f in ('settings.ini', 'CHANGELOG.md'): shutil.copy(ROOT/f, tmp_path/f)
    (tmp_path/'ddpm_nb').mkdir()
    shutil.copy(ROOT/'ddpm_nb'/'__init__.py', tmp_path/'ddpm_nb'/'__init__.py')
    return tmp_path


def test_release_check_catches_each_problem(tmp_path):
    "The workflow's gate: the right tag on a dated changelog passes; each kind of mismatch is named."
    root, tag = _copy_root(tmp_path), f'v{VERSION}'
    log = root/'CHANGELOG.md'
    text = log.read_text(encoding='utf-8')
    dated = re.sub(rf'^## {re.escape(VERSION)} \({NOT_YET}\)', f'## {VERSION} (2026-12-08)', text, flags=re.M)
    log.write_text(dated, encoding='utf-8')
    assert problems(tag, root) == []
    assert problems(f'v{VERSION}.1', root) == [f"tag 'v{VERSION}.1' is not v + the version in settings.ini ({tag})"]
    assert len(problems(VERSION, root)) == 1, 'a tag without the v'

    log.write_text(dated.replace(f'## {VERSION} (2026-12-08)', f'## {VERSION} ({NOT_YET})'), encoding='utf-8')
    assert [p for p in problems(tag, root) if 'release date' in p], 'an undated section was accepted'

    log.write_text(re.sub(r'^(## \d)', rf'## {UNRELEASED}\n\n- something new\n\n\1', dated, count=1, flags=re.M),
                   encoding='utf-8')
    assert problems(tag, root) == [], 'an Unreleased section on top is allowed'
    log.write_text(dated.replace(f'## {VERSION} ', '## 0.0.9 ', 1), encoding='utf-8')
    assert [p for p in problems(tag, root) if 'newest release section' in p]
    log.write_text(dated + '\n## Misc\n', encoding='utf-8')
    with pytest.raises(ValueError, match='Misc'): problems(tag, root)

    log.write_text(dated, encoding='utf-8')
    (root/'ddpm_nb'/'__init__.py').write_text('__version__ = "0.0.9"\n')
    assert [p for p in problems(tag, root) if 'nbdev_export' in p]


def test_release_workflow():
    wf = _workflow('release.yaml')
    assert wf['on'] == {'push': {'tags': ['v*']}}
    assert wf['permissions'] == {'contents': 'read'}, 'write permissions belong to the jobs that need them'
    jobs = wf['jobs']
    build, publish, release = jobs['build'], jobs['publish'], jobs['github-release']
    runs = [s.get('run', '') for s in build['steps']]

    def at(pattern) -> int:
        "Index of the first build step whose commands match `pattern`."
        return next(i for i, r in enumerate(runs) if re.search(pattern, r, re.M))

    # the order matters: nothing is built for a wrong tag, nothing is uploaded for an untested wheel
    check = at(r'tools/release_check\.py "\$GITHUB_REF_NAME"')
    make = at(r'^python -m build$')
    test = at(r'tests/test_wheel\.py')
    assert check < make < test
    assert re.search(r'python -m venv', runs[test]), 'the wheel is tested in a fresh venv'
    assert re.search(r'DDPM_NB_WHEEL="\$\(ls dist/\*\.whl\)"', runs[test]), 'test_wheel checks the built wheel'
    assert re.search(r'pip" install dist/\*\.whl', runs[test])
    assert any(s.get('uses', '').startswith('actions/upload-artifact@') for s in build['steps'][test:])

    assert publish['needs'] == 'build' and release['needs'] == 'publish'
    assert publish['environment']['name'] == 'pypi'
    assert publish['permissions'] == {'id-token': 'write'}
    assert [s for s in publish['steps'] if s.get('uses', '').startswith('pypa/gh-action-pypi-publish@')]
    assert 'with' not in next(s for s in publish['steps'] if 'pypi-publish' in s.get('uses', '')), \
        'trusted publishing: no password or token'
    assert release['permissions'] == {'contents': 'write'}
    assert re.search(r'gh release create "\$GITHUB_REF_NAME" dist/\*', _runs(release))
    assert re.search(r'release_check\.py --notes', _runs(release))
    uses = [s['uses'] for j in jobs.values() for s in j['steps'] if 'uses' in s]
    assert all(re.search(r'@(v\d+|release/v\d+)$', u) for u in uses), f'actions pinned to a major version: {uses}'


def test_test_wheel_takes_a_built_wheel():
    "The workflow's DDPM_NB_WHEEL reaches tests/test_wheel.py (one wheel test, not a second one in YAML)."
    src = (ROOT/'tests'/'test_wheel.py').read_text(encoding='utf-8')
    assert "os.environ.get('DDPM_NB_WHEEL')" in src and "Path(os.environ['DDPM_NB_WHEEL'])" in src


def test_deploy_workflow_describes_the_notebooks():
    text = (WORKFLOWS/'deploy.yaml').read_text(encoding='utf-8')
    assert not re.search(r'have no outputs|without outputs|no outputs \(nbdev_clean\)', text)
    assert 'carry their outputs' in text and 'tools/execute_nbs.py --inplace' in text
    _workflow('deploy.yaml')  # still valid YAML
