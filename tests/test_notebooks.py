"""Run every notebook through nbdev's own test machinery, and check the repo is in sync.

One pytest test per notebook (so CI prints "N passed"). Cells flagged `#| slow` or `#| gpu` are
skipped unless named in the environment variable DDPM_NB_FLAGS (e.g. `DDPM_NB_FLAGS="slow" pytest`).
Each test keeps its executed copy (with outputs) for the docs check in tests/test_docs.py, which
pytest runs last (see conftest.py), so the notebooks are executed once per session.
"""
import filecmp, os, shutil, subprocess, sys
from pathlib import Path

import pytest

from conftest import ROOT, NBS, execute, skip_flags


@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb, executed):
    ok = executed.run(nb)
    assert ok, f'{nb.name} failed (see the traceback above)'


def _copy_project(tmp):
    for name in ('settings.ini', 'setup.py', 'README.md'):
        if (ROOT/name).exists(): shutil.copy(ROOT/name, tmp/name)
    shutil.copytree(ROOT/'nbs', tmp/'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints', 'runs'))
    shutil.copytree(ROOT/'ddpm_nb', tmp/'ddpm_nb', ignore=shutil.ignore_patterns('__pycache__'))


def _nbdev(cmd, cwd):
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}  # nbdev_export is a no-op under IN_TEST
    exe = Path(sys.executable).with_name(cmd)
    r = subprocess.run([str(exe) if exe.exists() else cmd], cwd=cwd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, f'{cmd} failed:\n{r.stdout}\n{r.stderr}'


def test_modules_match_notebooks(tmp_path):
    "The committed `ddpm_nb/*.py` are exactly what `nbdev_export` makes from `nbs/`."
    _copy_project(tmp_path)
    shutil.rmtree(tmp_path/'ddpm_nb')
    _nbdev('nbdev_export', tmp_path)
    made = sorted(p.name for p in (tmp_path/'ddpm_nb').glob('*.py'))
    have = sorted(p.name for p in (ROOT/'ddpm_nb').glob('*.py'))
    assert made == have, f'modules differ: exported {made}, committed {have}; run nbdev_export'
    _, diff, errs = filecmp.cmpfiles(tmp_path/'ddpm_nb', ROOT/'ddpm_nb', made, shallow=False)
    assert not diff and not errs, f'{diff + errs} differ from the notebooks: run nbdev_export and commit'


def test_notebooks_are_clean(tmp_path):
    "Every notebook is as `nbdev_clean` leaves it: outputs kept, no execution counts or stray metadata."
    _copy_project(tmp_path)
    _nbdev('nbdev_clean', tmp_path)
    dirty = [p.name for p in NBS if (tmp_path/'nbs'/p.name).read_bytes() != p.read_bytes()]
    assert not dirty, f'not clean: {dirty}; run nbdev_clean and commit'


def test_readme_matches_index():
    "README.md is what `tools/make_readme.py` renders from nbs/index.ipynb."
    sys.path.insert(0, str(ROOT/'tools'))
    from make_readme import render
    assert (ROOT/'README.md').read_text(encoding='utf-8') == render(), 'README.md is stale: run python tools/make_readme.py'
