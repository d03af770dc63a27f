#!/usr/bin/env python
"""Write README.md from nbs/index.ipynb without quarto (which `nbdev_readme` needs).

GitHub Actions runs the real `nbdev_readme` when it builds the docs; this gives the same content
locally: markdown cells verbatim, visible code cells as ```python blocks, `#| hide` cells dropped,
and links/images rewritten to be relative to the repository root.
"""
import json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render(nb_path=ROOT/'nbs'/'index.ipynb') -> str:
    nb = json.loads(Path(nb_path).read_text(encoding='utf-8'))
    out = []
    for c in nb['cells']:
        src = ''.join(c['source']).strip()
        if not src: continue
        if c['cell_type'] == 'markdown':
            # ](x.ipynb), ](images/..) are relative to nbs/ in the notebook; README lives one level up
            src = re.sub(r'\]\((?!https?://|#|/)([^)]+)\)', r'](nbs/\1)', src)
            out.append(src)
        elif c['cell_type'] == 'code' and not re.match(r'\s*#\|\s*hide', src):
            out.append('```python\n' + src + '\n```')
    return '\n\n'.join(out) + '\n'


if __name__ == '__main__':
    (ROOT/'README.md').write_text(render(), encoding='utf-8')
    print('wrote README.md')
