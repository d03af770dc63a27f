"""Release check: the wheel `nbdev_pypi` would upload builds, holds only the package, installs and runs.

The wheel is built from a copy of just the files a release needs (so the repository's own build/
and egg-info are untouched, and a file missing from that list shows up here). It is installed in a
fresh venv that sees the packages of the interpreter running the tests: torch, numpy etc. come from
the environment that `pip install -e ".[dev]"` already filled, so nothing is downloaded (torch alone
is hundreds of MB). `--system-site-packages` cannot do that: it exposes the *base* interpreter's
packages, and when the tests run inside a venv (the usual way) those are not the venv's, so the
wheel's `import torch` failed. Instead a `.pth` file in the new venv lists the site directories of
the running interpreter, whatever it is (a system or conda Python, or an activated venv); plain
paths in a `.pth` are added to sys.path but the `.pth` files inside them are not run, so the
checkout's editable install stays invisible. `--no-deps --ignore-installed` puts the wheel itself
into the venv. The checks run from outside the repository with PYTHONPATH cleared and assert that
`ddpm_nb` is imported from the venv, not from the checkout.

The release workflow (.github/workflows/release.yaml) runs this same test on the wheel it is about to
publish: with DDPM_NB_WHEEL=dist/ddpm_nb-X.Y.Z-py3-none-any.whl the wheel is checked as it is
instead of being built here.
"""
import os, re, shutil, subprocess, sys, zipfile
from configparser import ConfigParser
from pathlib import Path

from conftest import ROOT

RELEASE_FILES = ('setup.py', 'settings.ini', 'pyproject.toml', 'MANIFEST.in', 'README.md', 'LICENSE',
                 'CHANGELOG.md')


def _run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert r.returncode == 0, f'{" ".join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    return r.stdout


def parent_site_dirs()->list:
    "The site-packages/dist-packages folders this interpreter imports from (a venv's own, when run in one)."
    return [p for p in sys.path if Path(p).name in ('site-packages', 'dist-packages') and Path(p).is_dir()]


def test_parent_site_dirs():
    import torch
    assert any(Path(torch.__file__).is_relative_to(d) for d in parent_site_dirs()), (torch.__file__, parent_site_dirs())
    if sys.prefix != sys.base_prefix:   # in a venv: its own site-packages, which --system-site-packages would miss
        assert any(Path(d).is_relative_to(sys.prefix) for d in parent_site_dirs())


def test_tracker_extras():
    "Every experiment tracker of TrainConfig.logger has the extra its missing-package error names."
    from ddpm_nb.train import TRACKERS
    cfg = ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini', encoding='utf-8')
    cfg = cfg['DEFAULT']
    pkgs = [c.package for c in TRACKERS.values() if c]
    assert pkgs and set(pkgs) <= set(cfg['extras'].split()), (pkgs, cfg['extras'])
    for p in pkgs: assert cfg[f'{p}_requirements'].split()[0].startswith(p)
    assert 'tensorboard' in [r.split('>')[0] for r in cfg['dev_requirements'].split()]  # CI tests it


def test_wheel_installs_and_runs(tmp_path):
    cfg = ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini', encoding='utf-8')
    cfg = cfg['DEFAULT']
    if os.environ.get('DDPM_NB_WHEEL'):
        wheel = Path(os.environ['DDPM_NB_WHEEL']).resolve()
    else:
        src = tmp_path/'src'
        src.mkdir()
        for f in RELEASE_FILES: shutil.copy(ROOT/f, src/f)
        shutil.copytree(ROOT/'ddpm_nb', src/'ddpm_nb', ignore=shutil.ignore_patterns('__pycache__'))
        # no build isolation: setuptools from this environment, not a download per test run
        _run([sys.executable, '-m', 'build', '--wheel', '--no-isolation', '--outdir', tmp_path/'dist', src],
             cwd=tmp_path)
        wheel, = (tmp_path/'dist').glob('*.whl')
    assert wheel.name == f'ddpm_nb-{cfg["version"]}-py3-none-any.whl'

    names = zipfile.ZipFile(wheel).namelist()
    dist_info = f'ddpm_nb-{cfg["version"]}.dist-info/'
    stray = [n for n in names if not n.startswith(('ddpm_nb/', dist_info))]
    assert not stray, f'the wheel holds more than the package: {stray}'
    mods = {p.name for p in (ROOT/'ddpm_nb').glob('*.py')}
    assert {n.split('/')[1] for n in names if n.startswith('ddpm_nb/')} == mods
    meta = zipfile.ZipFile(wheel).read(dist_info + 'METADATA').decode()
    for field in ('Summary: ' + cfg['description'], 'Keywords:', 'License', 'Requires-Python: >=' + cfg['min_python'],
                  'Classifier: Development Status :: 3 - Alpha', 'Classifier: License :: OSI Approved :: MIT License',
                  'Requires-Dist: torch', 'Project-URL: Documentation', 'Provides-Extra: tensorboard',
                  'Requires-Dist: tensorboard>=2.10; extra == "tensorboard"'):
        assert field in meta, f'{field!r} missing from METADATA'
    assert not re.search(r'\]\(nbs/', meta), 'README links relative to the repo would break on PyPI'
    scripts = zipfile.ZipFile(wheel).read(dist_info + 'entry_points.txt').decode()
    for s in ('ddpm_train', 'ddpm_sample', 'ddpm_eval'): assert f'{s} = ' in scripts

    venv = tmp_path/'venv'
    _run([sys.executable, '-m', 'venv', venv])
    py, bin_ = venv/'bin'/'python', venv/'bin'
    purelib = _run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])']).strip()
    (Path(purelib)/'parent_env.pth').write_text('\n'.join(parent_site_dirs()) + '\n')
    _run([py, '-m', 'pip', 'install', '-q', '--no-deps', '--ignore-installed', '--no-index', wheel])
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'IN_TEST')}
    out = _run([py, '-c', 'import ddpm_nb, ddpm_nb.cli; print(ddpm_nb.__file__); print(ddpm_nb.__version__)'],
               cwd=tmp_path, env=env).split()
    assert out[0].startswith(str(venv)), f'ddpm_nb came from {out[0]}, not from the wheel in {venv}'
    assert out[1] == cfg['version']
    help_ = _run([bin_/'ddpm_train', '--help'], cwd=tmp_path, env=env)
    assert 'usage: ddpm_train' in help_ and '--dataset' in help_
    assert 'usage: ddpm_sample' in _run([bin_/'ddpm_sample', '--help'], cwd=tmp_path, env=env)
