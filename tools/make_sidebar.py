#!/usr/bin/env python
"""Write nbs/sidebar.yml: the docs site's sidebar in reading order (index and notation first, then by number).

settings.ini has `custom_sidebar = True`, so `nbdev_docs` uses this file instead of making its own;
tests/test_site.py checks that it lists exactly the notebooks in nbs/. Run it after adding one:

    python tools/make_sidebar.py
"""
import re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from execute_nbs import notebooks  # noqa: E402


FRONT = ('index', 'notation')   # read before the chapters: the introduction, then the notation sheet


def reading_order(nbs_dir=ROOT/'nbs') -> list:
    "Notebook file names: the FRONT pages, then numbered ones by number (09_train before 10_files), then others by name."
    def key(p):
        m = re.match(r'(\d+)[a-z]?_', p.name)   # a letter after the number: a part of that chapter, read after it
        front = FRONT.index(p.stem) if p.stem in FRONT else len(FRONT)
        return (front, int(m.group(1)) if m else float('inf'), p.name)
    return [p.name for p in sorted(notebooks(nbs_dir), key=key)]


def render(nbs_dir=ROOT/'nbs') -> str:
    lines = ['# Made by tools/make_sidebar.py from the notebooks in nbs/: do not edit by hand.',
             'website:', '  sidebar:', '    contents:']
    return '\n'.join(lines + [f'      - {name}' for name in reading_order(nbs_dir)]) + '\n'


if __name__ == '__main__':
    (ROOT/'nbs'/'sidebar.yml').write_text(render(), encoding='utf-8')
    print('wrote nbs/sidebar.yml:', ' '.join(reading_order()))
