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

The committed notebooks carry their outputs (the book reads on GitHub and in Colab without running).
`--inplace` makes them, reproducibly: every run starts from the same seeds (Python, NumPy, torch) and
PYTHONHASHSEED, figures are PNGs at `FIG_DPI`, progress bars are off, and `tidy_outputs` removes what
would change from machine to machine (ANSI colour codes, carriage-return progress lines, temporary and
checkout paths, widget state). It then stamps each notebook with a hash of every code cell's source
(metadata `ddpm_nb.code`, see `code_hashes`) and leaves the file as `nbdev_clean` would.
tests/test_outputs.py fails, naming the notebook and this command, when a code cell changed after.

    python tools/execute_nbs.py --out DIR [NB ...]     # executed copies into DIR (tests, docs check)
    python tools/execute_nbs.py --inplace [NB ...]     # regenerate the committed outputs (default: all)
"""
import argparse, hashlib, json, os, re, sys, tempfile, time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
NBS_DIR = ROOT/'nbs'
META_KEY = 'ddpm_nb_executed'  # notebook metadata of an executed copy: how and whether it was executed
STAMP_KEY = 'ddpm_nb'          # notebook metadata of a committed notebook: {'code': {cell id: hash}}
FIG_DPI = 72                   # inline figures: a 10-inch-wide figure is 720 px, a page wide
REGENERATE = 'PYTHONPATH=$PWD python tools/execute_nbs.py --inplace'
# Run before a notebook's first cell: the same random state on every run, no progress bars, no open figures.
PREAMBLE = ('import os as _o, random as _r; _o.environ["TQDM_DISABLE"] = "1"; _r.seed(0)\n'
            'import numpy as _np; _np.random.seed(0)\n'
            'import torch as _t; _t.manual_seed(0)\n'
            'import matplotlib as _m; _m.rcParams.update({"figure.dpi": %d, "savefig.dpi": %d})\n'
            # a figure a notebook left open would otherwise show up in the next one run by the same shell
            'import matplotlib.pyplot as _p; _p.close("all")\n'
            'del _o, _r, _np, _t, _m, _p' % (FIG_DPI, FIG_DPI))


def notebooks(nbs_dir=NBS_DIR) -> list:
    "The notebooks nbdev tests and documents: nbs/*.ipynb without `_`-prefixed ones."
    return sorted(p for p in Path(nbs_dir).glob('*.ipynb') if not p.name.startswith(('_', '.')))


def skip_flags(env=None) -> list:
    "nbdev's `tst_flags` (slow, gpu) minus those named in the environment variable DDPM_NB_FLAGS."
    env = os.environ if env is None else env
    forced = env.get('DDPM_NB_FLAGS', '').split()
    return [f for f in ('slow', 'gpu') if f not in forced]


def code_hashes(nb:dict) -> dict:
    "{cell id: first 8 hex digits of the SHA-256 of its source} for every code cell of `nb`."
    out = {}
    for c in nb['cells']:
        if c.get('cell_type') == 'code':
            src = c['source'] if isinstance(c['source'], str) else ''.join(c['source'])
            out[c.get('id', '')] = hashlib.sha256(src.encode('utf-8')).hexdigest()[:8]
    return out


def stale(nb:dict) -> str:
    "Why the outputs stored in `nb` are not those of its code ('' when they are)."
    stamp = nb.get('metadata', {}).get(STAMP_KEY, {}).get('code')
    if stamp is None: return 'it has never been executed in place (no outputs stored)'
    now = code_hashes(nb)
    changed = [k for k in now if k in stamp and now[k] != stamp[k]]
    added, removed = [k for k in now if k not in stamp], [k for k in stamp if k not in now]
    why = [f'{what} {", ".join(ids)}' for what, ids in
           (('changed code cells', changed), ('new code cells', added), ('removed code cells', removed)) if ids]
    return '; '.join(why)


_ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')
_TMP = re.compile(re.escape(tempfile.gettempdir().rstrip('/')) + r'/[^/\s\'"]+')  # /tmp/tmpab12cd -> <tmp>
_SITE = re.compile(r'/[^\s\'"]*/(?:site|dist)-packages')


def tidy_text(s:str) -> str:
    "Text output without what changes between machines and runs: colours, progress lines, paths."
    s = _ANSI.sub('', s)
    # a progress line redrawn with carriage returns: keep what was left on screen
    s = '\n'.join(line.rsplit('\r', 1)[-1] for line in s.split('\n'))
    s = s.replace(str(ROOT), '<repo>').replace(str(Path.home()), '~')
    return _SITE.sub('<site-packages>', _TMP.sub('<tmp>', s))


def tidy_outputs(cell:dict):
    "Tidy one code cell's outputs in place: text via `tidy_text`, widgets reduced to their text form."
    keep = []
    for o in cell.get('outputs', []):
        o = dict(o)
        if 'text' in o:
            o['text'] = tidy_text(o['text'] if isinstance(o['text'], str) else ''.join(o['text']))
            if not o['text']: continue
        data = {k: v for k, v in o.get('data', {}).items() if 'widget' not in k}
        for k in data:
            if k.startswith('text/') and k != 'text/html':
                data[k] = tidy_text(data[k] if isinstance(data[k], str) else ''.join(data[k]))
        if 'data' in o:
            if not data: continue
            o['data'] = data
        if 'traceback' in o: o['traceback'] = [tidy_text(t) for t in o['traceback']]
        keep.append(o)
    cell['outputs'] = keep


def _copy_outputs(ran, nb):
    "Put the outputs of `ran` (the notebook nbdev processed and executed) onto `nb` (the original)."
    ran_code = [c for c in ran['cells'] if c.get('cell_type') == 'code']
    code = [c for c in nb['cells'] if c.get('cell_type') == 'code']
    # nbdev's processing only rewrites markdown/raw cells (frontmatter), so code cells pair up in order
    assert len(ran_code) == len(code), f'{len(ran_code)} code cells ran but the notebook has {len(code)}'
    for r, c in zip(ran_code, code):
        c['outputs'] = [dict(o) for o in (r.get('outputs') or [])]
        c['execution_count'] = r.get('execution_count')
        tidy_outputs(c)


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
            self.run(PREAMBLE)
            return super().run_all(nb, *args, **kwargs)

    start = time.time()
    os.environ.setdefault('TQDM_DISABLE', '1')
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


def regenerate(nb_path) -> tuple:
    "Execute `nb_path` and, if it passes, store its outputs and code hashes in it, cleaned. Returns (ok, seconds)."
    from execnb.nbio import read_nb, write_nb
    from nbdev.clean import clean_nb
    from nbdev.config import get_config
    nb_path = Path(nb_path).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)/nb_path.name
        ok, secs = execute(nb_path, out, skip=['slow', 'gpu'], stamp=False)
        if not ok: return ok, secs               # a failing notebook keeps its old outputs
        nb = read_nb(out)
    nb['metadata'][STAMP_KEY] = dict(code=code_hashes(nb))
    cfg = get_config(path=ROOT)
    # exactly what nbdev_clean leaves (outputs kept, counts and stray metadata gone)
    clean_nb(nb, False, cfg.get('allowed_metadata_keys').split(), cfg.get('allowed_cell_metadata_keys').split(),
             cfg.clean_ids)
    tmp_path = nb_path.with_name(nb_path.name + '.tmp')
    write_nb(nb, tmp_path)
    os.replace(tmp_path, nb_path)                # atomic: never a half-written notebook
    return ok, secs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('nbs', nargs='*', type=Path, help='notebooks (default: all of nbs/)')
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument('--out', type=Path, help='folder for the executed copies')
    g.add_argument('--inplace', action='store_true',
                   help='regenerate the outputs stored in the notebooks themselves (slow and gpu cells skipped)')
    a = ap.parse_args(argv)
    if a.inplace and os.environ.get('PYTHONHASHSEED') != '0':
        # set/dict order in printed outputs must not change between runs; only a fresh interpreter can fix it
        os.execvpe(sys.executable, [sys.executable, *sys.argv], {**os.environ, 'PYTHONHASHSEED': '0'})
    sys.path.insert(0, str(ROOT))  # as nbdev_test's basepath: the repo's package wins over an installed one
    failed = []
    for nb in a.nbs or notebooks():
        ok, secs = regenerate(nb) if a.inplace else execute(nb, a.out/nb.name)
        print(f'{"ok  " if ok else "FAIL"} {nb.name} {secs:.1f} s', flush=True)
        if not ok: failed.append(nb.name)
    if failed: sys.exit(f'failed (outputs left as they were): {" ".join(failed)}')


if __name__ == '__main__':
    main()
