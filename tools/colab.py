#!/usr/bin/env python
"""Give every notebook an "Open in Colab" badge and a Colab-only install cell (idempotent).

nbdev turns the first `# Title` markdown cell into the page's frontmatter (title + the first `> `
line as description) and drops the whole cell, so anything else in it never reaches the docs site.
This tool first splits such a title cell: `# Title` and `> description` stay, the rest moves to a new
cell right after (id: the title cell's id + "-intro").

Right after the title cell (else at the top, after a `#| default_exp` cell) go two cells with fixed
ids, so rerunning this updates them in place and never duplicates them:

- `colab-badge`: markdown, the badge linking to the notebook on GitHub's main branch, opened in Colab;
- `colab-install`: a `#| hide` code cell that pip-installs the package from GitHub only when it runs
  in Colab (`google.colab` imported). Everywhere else, the tests and CI included, it does nothing;
  `#| hide` keeps it off the docs site and out of the README, and nbdev_export ignores it.

    python tools/colab.py            # all notebooks in nbs/
    python tools/colab.py --check    # exit 1 if a notebook lacks the cells or has stale ones
"""
import argparse, json, re, sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from execute_nbs import notebooks  # noqa: E402

BADGE_ID, INSTALL_ID = 'colab-badge', 'colab-install'


def _settings():
    cfg = ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']


def colab_url(name, cfg=None) -> str:
    "Colab's address for notebook `name` on GitHub (settings.ini's git_url, branch and nbs_path)."
    cfg = cfg or _settings()
    repo = re.sub(r'^https://github\.com/', '', cfg['git_url']).rstrip('/')
    return f'https://colab.research.google.com/github/{repo}/blob/{cfg["branch"]}/{cfg["nbs_path"]}/{name}'


def badge_source(name, cfg=None) -> str:
    badge = f'[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(name, cfg)})'
    if name in ('index.ipynb', 'notation.ipynb'):
        return badge
    # every chapter links the one notation page (symbols, shapes, the paper's t vs the code's index)
    return badge + ' &nbsp; Symbols and indices: [notation](notation.ipynb)'


def install_source(cfg=None) -> str:
    # from GitHub, not PyPI: the notebook opened is main's, so the package must be main's too
    cfg = cfg or _settings()
    # as `ruff format` leaves it (tests/test_style.py formats every cell)
    return ('#| hide\n'
            "# Only on Colab: install the package this notebook uses (elsewhere it is installed already).\n"
            'import sys\n'
            '\n'
            "if 'google.colab' in sys.modules:\n"
            '    import subprocess\n'
            '\n'
            '    subprocess.run(\n'
            f"        [sys.executable, '-m', 'pip', 'install', '-q', 'git+{cfg['git_url']}'],\n"
            '        check=True,\n'
            '    )\n'
            '    import torch\n'
            '\n'
            '    print(\n'
            "        'GPU:',\n"
            '        torch.cuda.get_device_name()\n'
            '        if torch.cuda.is_available()\n'
            "        else 'none (Runtime > Change runtime type > GPU makes the long cells faster)',\n"
            '    )')


def _src(c): return c['source'] if isinstance(c['source'], str) else ''.join(c['source'])
def _lines(s): return s.splitlines(keepends=True)  # sources as lists of lines, as Jupyter and nbdev_clean save them


def split_title(src: str):
    "(title part, rest) of a title cell's source: the title part ends with the first `> ` line."
    lines = src.split('\n')
    end = next((i for i, l in enumerate(lines) if re.match(r'>\s', l)), None)
    if end is None: end = next(i for i, l in enumerate(lines) if re.match(r'#\s', l))
    return '\n'.join(lines[:end+1]).rstrip(), '\n'.join(lines[end+1:]).strip()


def add_cells(nb: dict, name: str, cfg=None) -> dict:
    "Notebook `nb` with the badge and install cells in place (existing ones updated, not duplicated)."
    cfg = cfg or _settings()
    cells = [c for c in nb['cells'] if c.get('id') not in (BADGE_ID, INSTALL_ID)]
    at = 0
    for i, c in enumerate(cells):
        # nbdev's frontmatter is the first markdown cell with a `# ` line (nbdev.frontmatter._md2dict)
        if c['cell_type'] == 'markdown' and re.search(r'^#\s+\S', _src(c), flags=re.M):
            title, rest = split_title(_src(c))
            if rest:
                cells[i] = dict(c, source=_lines(title))
                cells.insert(i + 1, dict(cell_type='markdown', id=f'{c.get("id", "title")}-intro'[-64:],
                                         metadata={}, source=_lines(rest)))
            at = i + 1
            break
    else:  # no title: after a leading `#| default_exp` cell, if there is one
        if cells and cells[0]['cell_type'] == 'code' and 'default_exp' in _src(cells[0]): at = 1
    badge = dict(cell_type='markdown', id=BADGE_ID, metadata={}, source=_lines(badge_source(name, cfg)))
    install = dict(cell_type='code', id=INSTALL_ID, metadata={}, source=_lines(install_source(cfg)),
                   execution_count=None, outputs=[])
    return dict(nb, cells=cells[:at] + [badge, install] + cells[at:])


def has_cells(nb: dict, name: str, cfg=None) -> bool:
    "Whether `nb` already is what `add_cells` makes of it."
    return nb['cells'] == add_cells(nb, name, cfg)['cells']


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('nbs', nargs='*', type=Path, help='notebooks (default: all of nbs/)')
    ap.add_argument('--check', action='store_true', help='only report notebooks that need the cells')
    a = ap.parse_args(argv)
    cfg, stale = _settings(), []
    for p in a.nbs or notebooks():
        nb = json.loads(p.read_text(encoding='utf-8'))
        if has_cells(nb, p.name, cfg): continue
        stale.append(p.name)
        if not a.check:
            # nbdev_clean's layout (execnb's write_nb): sorted keys, indent 1, UTF-8 kept, trailing newline
            p.write_text(json.dumps(add_cells(nb, p.name, cfg), sort_keys=True, indent=1, ensure_ascii=False) + '\n',
                         encoding='utf-8')
    if a.check and stale: sys.exit(f'missing or stale Colab cells: {" ".join(stale)}; run python tools/colab.py')
    print(f'{"need" if a.check else "updated"}: {" ".join(stale) or "none"}')


if __name__ == '__main__':
    main()
