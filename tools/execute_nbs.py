#!/usr/bin/env python
"""Execute notebooks exactly as `nbdev_test` does, and keep the executed copy (with outputs).

The tests (tests/test_notebooks.py), the local docs check (tools/docs_check.py) and the docs deploy
workflow all execute notebooks through `execute`, so a notebook is run once and its outputs are used
twice: once as the test verdict, once as the pages' figures.

`execute` calls nbdev's own `nbdev.test.test_nb` (same skip flags, IN_TEST, cwd = the notebook's
folder, stop at the first error, `#| eval: false` and `nbdev_export(` cells skipped, frontmatter
processing), only swapping in a `CaptureShell` that remembers the notebook it ran. The notebook
nbdev executes has its directives stripped and its title turned into frontmatter, so the outputs are
copied back onto a fresh read of the original notebook, code cell by code cell, and that is saved.

    python tools/execute_nbs.py --out DIR [NB ...]     # executed copies into DIR
    python tools/execute_nbs.py --inplace [NB ...]     # outputs written into the notebooks themselves
                                                       # (for the docs build on GitHub; never commit it)
"""
import argparse, json, os, sys, time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
NBS_DIR = ROOT/'nbs'
META_KEY = 'ddpm_nb_executed'  # notebook metadata: how and whether the copy was executed


def notebooks(nbs_dir=NBS_DIR) -> list:
    "The notebooks nbdev tests and documents: nbs/*.ipynb without `_`-prefixed ones."
    return sorted(p for p in Path(nbs_dir).glob('*.ipynb') if not p.name.startswith(('_', '.')))


def skip_flags(env=None) -> list:
    "nbdev's `tst_flags` (slow, gpu) minus those named in the environment variable DDPM_NB_FLAGS."
    env = os.environ if env is None else env
    forced = env.get('DDPM_NB_FLAGS', '').split()
    return [f for f in ('slow', 'gpu') if f not in forced]


def _copy_outputs(ran, nb):
    "Put the outputs of `ran` (the notebook nbdev processed and executed) onto `nb` (the original)."
    ran_code = [c for c in ran['cells'] if c.get('cell_type') == 'code']
    code = [c for c in nb['cells'] if c.get('cell_type') == 'code']
    # nbdev's processing only rewrites markdown/raw cells (frontmatter), so code cells pair up in order
    assert len(ran_code) == len(code), f'{len(ran_code)} code cells ran but the notebook has {len(code)}'
    for r, c in zip(ran_code, code):
        c['outputs'] = [dict(o) for o in (r.get('outputs') or [])]
        c['execution_count'] = r.get('execution_count')


def execute(nb_path, out_path=None, skip=None, showerr=True, stamp=True):
    "Run `nb_path` through nbdev's `test_nb`; save the executed copy to `out_path`. Returns (ok, seconds)."
    from execnb.shell import CaptureShell
    import nbdev.test

    nb_path = Path(nb_path).resolve()
    skip = skip_flags() if skip is None else list(skip)
    seen = {}

    class KeepShell(CaptureShell):
        def run_all(self, nb, *args, **kwargs):
            seen['nb'] = nb
            return super().run_all(nb, *args, **kwargs)

    start = time.time()
    with mock.patch.object(nbdev.test, 'CaptureShell', KeepShell):
        ok, _ = nbdev.test.test_nb(nb_path, skip_flags=skip, showerr=showerr)
    secs = time.time() - start
    if out_path is not None:
        nb = json.loads(nb_path.read_text(encoding='utf-8'))
        if 'nb' in seen: _copy_outputs(seen['nb'], nb)
        # no 'nb': nbdev skipped the notebook (frontmatter skip_exec, or not Python) and ran nothing
        if stamp:
            nb.setdefault('metadata', {})[META_KEY] = dict(ok=bool(ok), skip_flags=skip, seconds=round(secs, 1),
                                                           executed='nb' in seen)
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    return ok, secs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('nbs', nargs='*', type=Path, help='notebooks (default: all of nbs/)')
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument('--out', type=Path, help='folder for the executed copies')
    g.add_argument('--inplace', action='store_true', help='write the outputs into the notebooks themselves')
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # as nbdev_test's basepath: the repo's package wins over an installed one
    failed = []
    for nb in a.nbs or notebooks():
        ok, secs = execute(nb, nb if a.inplace else a.out/nb.name, stamp=not a.inplace)
        print(f'{"ok  " if ok else "FAIL"} {nb.name} {secs:.1f} s', flush=True)
        if not ok: failed.append(nb.name)
    if failed: sys.exit(f'failed: {" ".join(failed)}')


if __name__ == '__main__':
    main()
