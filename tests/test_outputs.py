"""The committed notebooks carry their outputs, and those outputs belong to the code next to them.

`python tools/execute_nbs.py --inplace` runs a notebook and stores its outputs together with a hash
of every code cell's source (notebook metadata `ddpm_nb.code`). A code cell edited afterwards
without regenerating makes `test_outputs_fresh[<notebook>]` fail with the command to run. The hash
covers the notebook's own code cells, not the package modules they import: a change to
`ddpm_nb/*.py` made from another notebook is caught by that notebook's check, and the coordinator
regenerates the whole book before a release. Markdown edits never make outputs stale.
"""
import json
import re

import pytest

from conftest import NBS, ROOT
from execute_nbs import REGENERATE, STAMP_KEY, code_hashes, stale, tidy_text

# all notebooks together: a few MiB, so a clone stays quick. 190 KiB a notebook, so a new chapter brings its
# share and no more (the budget began as 6 MiB for 25 notebooks, 246 KiB each)
MAX_BOOK_BYTES = len(NBS) * 190 * 2**10
MAX_NB_BYTES = 1.5 * 2**20     # one chapter: a handful of page-sized PNGs
MACHINE = re.compile(r'/tmp/|/work/|/home/|\x1b\[|site-packages/')


def _nb(p): return json.loads(p.read_text(encoding='utf-8'))


@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_outputs_fresh(nb):
    "The outputs stored in `nb` were made from its current code cells."
    why = stale(_nb(nb))
    assert not why, f'{nb.name}: stored outputs are stale ({why}); regenerate with: {REGENERATE} nbs/{nb.name}'


@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_outputs_fresh_and_portable(nb):
    "No stored output mentions a machine path, a colour code or a progress redraw (they would churn)."
    for c in _nb(nb)['cells']:
        for o in c.get('outputs', []):
            texts = [o.get('text', '')] + [v for k, v in o.get('data', {}).items() if k.startswith('text/')]
            for t in texts:
                t = t if isinstance(t, str) else ''.join(t)
                assert not MACHINE.search(t) and '\r' not in t, \
                    f'{nb.name}, cell {c["id"]}: output has a machine path or terminal control: {t[:200]!r}'


def test_freshness_check_catches_edits():
    "The check itself: an edited, added or removed code cell is reported; a markdown edit is not."
    cells = [dict(cell_type='code', id='a1', source='x = 1'), dict(cell_type='code', id='b2', source=['y = ', '2']),
             dict(cell_type='markdown', id='m3', source='# text')]
    nb = dict(cells=cells, metadata={})
    assert 'never been executed' in stale(nb)
    nb['metadata'][STAMP_KEY] = dict(code=code_hashes(nb))
    assert stale(nb) == ''
    cells[2]['source'] = '# other text'
    assert stale(nb) == ''
    cells[1]['source'] = 'y = 3'
    assert stale(nb) == 'changed code cells b2'
    cells.append(dict(cell_type='code', id='c4', source='z'))
    del cells[0]
    assert stale(nb) == 'changed code cells b2; new code cells c4; removed code cells a1'


def test_tidy_text_removes_machine_detail():
    s = f'\x1b[31mred\x1b[0m 10%\r50%\r100%\nsaved {ROOT}/nbs/x.png and /tmp/tmpab12_x/run/y.png'
    assert tidy_text(s) == '100%\nsaved <repo>/nbs/x.png and <tmp>/run/y.png'


def test_notebooks_are_small_fresh():
    "The book with its outputs stays small: figures are page-sized PNGs, not megabytes."
    sizes = {p.name: p.stat().st_size for p in NBS}
    big = {k: f'{v / 2**20:.2f} MiB' for k, v in sizes.items() if v > MAX_NB_BYTES}
    assert not big, f'notebooks over {MAX_NB_BYTES / 2**20} MiB: {big}; make the figures smaller (fewer, lower dpi)'
    total = sum(sizes.values())
    assert total <= MAX_BOOK_BYTES, f'the notebooks total {total / 2**20:.2f} MiB, over {MAX_BOOK_BYTES / 2**20} MiB'
