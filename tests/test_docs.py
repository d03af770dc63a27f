"""The local docs check (tools/docs_check.py) on this session's executed notebooks.

conftest.py runs this file last, so after a full `pytest` every notebook has been executed once by
its own test and the check renders all of them. Run alone (`pytest -k docs`) or with notebooks
deselected, it executes only SMALL (quick notebooks with math, a figure and a markdown image) and
checks those together with whatever else this session executed: enough to test the check itself
without re-running the whole book. Notebooks that failed their own test are not rendered; their
test has already failed.
"""
import shutil

import pytest

from conftest import ROOT, NBS

SMALL = ('index', '01_schedules')


def test_docs_render(executed):
    from docs_check import CHROMIUM, check, mathjax_dir
    # .ci/run installs Chromium (and stops if it cannot), so this skip only happens on a developer's machine
    if not shutil.which(CHROMIUM): pytest.skip(f'no Chromium ({CHROMIUM}): apt-get install -y chromium, or set CHROMIUM')
    mathjax_dir()  # a clear error if the dev requirement is missing
    if len(executed.ok) < len(NBS):
        for nb in NBS:
            if nb.stem in SMALL: executed.run(nb)
    pages = [executed.path(nb) for nb in NBS if executed.ok.get(nb.name)]
    assert pages, 'no notebook executed successfully, so there is nothing to render'
    res = check(pages)
    bad = {name: probs for name, (_, probs) in res.items() if probs}
    assert not bad, 'docs check failed:\n' + '\n'.join(f'{n}: {"; ".join(p)}' for n, p in bad.items())
    pages_with_math = [n for n, (m, _) in res.items() if m['math_items']]
    assert pages_with_math, 'no page has math: the check would not notice MathJax failing'


def test_docs_check_catches_problems(tmp_path):
    "The check itself: a page with an undefined macro, a TeX error, a broken image and an error output fails."
    import json
    from docs_check import check
    md = ('# Broken\n\nFine: $\\alpha_t$. Undefined: $\\notamacro x$. Unbalanced: $$\\frac{a}{b$$\n\n'
          '![gone](images/does_not_exist.png)')
    err = dict(output_type='error', ename='ValueError', evalue='boom', traceback=['ValueError: boom'])
    nb = dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[
        dict(cell_type='markdown', id='m1', metadata={}, source=md),
        dict(cell_type='code', id='c1', metadata={}, source='raise ValueError("boom")', execution_count=1, outputs=[err])])
    (tmp_path/'broken.ipynb').write_text(json.dumps(nb))
    (m, probs), = check([tmp_path/'broken.ipynb'], out=tmp_path/'out', shots=()).values()
    text = '\n'.join(probs)
    assert m['math_items'] == 3 and m['font'] == 'STIX-Web', m
    for what in ('undefined macro', 'MathJax error', 'broken images', 'ValueError: boom'):
        assert what in text, f'{what!r} not reported: {probs}'
