"""The docs site's configuration and the reader-facing cells: sidebar, quarto/nbdev config, Colab cells."""
import json, sys
from configparser import ConfigParser

import yaml

from conftest import ROOT, NBS

sys.path.insert(0, str(ROOT/'tools'))
import colab, make_sidebar  # noqa: E402


def _settings():
    cfg = ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']


def test_sidebar_lists_the_notebooks():
    "nbs/sidebar.yml is tools/make_sidebar.py's rendering: every notebook once, index first, then by number."
    assert (ROOT/'nbs'/'sidebar.yml').read_text(encoding='utf-8') == make_sidebar.render(), \
        'nbs/sidebar.yml is stale: run python tools/make_sidebar.py'
    listed = yaml.safe_load((ROOT/'nbs'/'sidebar.yml').read_text())['website']['sidebar']['contents']
    assert sorted(listed) == sorted(p.name for p in NBS) and listed[0] == 'index.ipynb'
    nums = [int(n.split('_')[0]) for n in listed[1:] if n.split('_')[0].isdigit()]
    assert nums == sorted(nums)
    assert _settings()['custom_sidebar'] == 'True', 'settings.ini: custom_sidebar = True, or nbdev_docs overwrites the sidebar'


def test_quarto_config():
    "_quarto.yml renders math with MathJax and reads nbdev.yml and sidebar.yml; nbdev.yml is what nbdev writes."
    q = yaml.safe_load((ROOT/'nbs'/'_quarto.yml').read_text())
    assert q['project']['type'] == 'website'
    assert q['format']['html']['html-math-method'] == 'mathjax'
    assert set(q['metadata-files']) == {'nbdev.yml', 'sidebar.yml'}
    assert (ROOT/'nbs'/q['format']['html']['css']).exists()
    from nbdev.quarto import _nbdev_yml  # the template refresh_quarto_yml fills from settings.ini
    cfg = _settings()
    vals = {k: cfg[k] for k in ('title', 'description', 'branch', 'git_url', 'doc_host', 'doc_baseurl')}
    assert (ROOT/'nbs'/'nbdev.yml').read_text() == _nbdev_yml.format(doc_path=cfg['doc_path'], **vals), \
        'nbs/nbdev.yml differs from what nbdev_docs writes from settings.ini'


def test_colab_tool_is_idempotent():
    "tools/colab.py on a small notebook: splits the title cell, adds badge + install cell once, then changes nothing."
    nb = dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[
        dict(cell_type='code', id='exp', metadata={}, source=['#| default_exp x'], execution_count=None, outputs=[]),
        dict(cell_type='markdown', id='ttl', metadata={}, source=['# Title\n', '> What it does.\n', '\n', 'Intro $x$.']),
        dict(cell_type='code', id='c1', metadata={}, source=['1 + 1'], execution_count=None, outputs=[])])
    once = colab.add_cells(nb, '99_x.ipynb')
    assert [c['id'] for c in once['cells']] == ['exp', 'ttl', 'colab-badge', 'colab-install', 'ttl-intro', 'c1']
    assert ''.join(once['cells'][1]['source']) == '# Title\n> What it does.'
    assert ''.join(once['cells'][4]['source']) == 'Intro $x$.'
    assert 'blob/main/nbs/99_x.ipynb' in ''.join(once['cells'][2]['source'])
    assert colab.add_cells(once, '99_x.ipynb') == once and colab.has_cells(once, '99_x.ipynb')
    # the install cell is a no-op outside Colab: run it here
    exec(''.join(once['cells'][3]['source']), {})


def test_notebooks_have_colab_cells():
    "Every notebook has the Colab badge and install cell after a title cell that nbdev keeps whole (tools/colab.py)."
    cfg = _settings()
    missing = [p.name for p in NBS if not colab.has_cells(json.loads(p.read_text(encoding='utf-8')), p.name, cfg)]
    assert not missing, f'run python tools/colab.py && nbdev_clean (then commit): {missing}'
