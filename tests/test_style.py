"""The code reads like the best of the field: the notebooks are `ruff format`ted at 100 columns (pyproject.toml),
the exported modules have no `;`-joined statements, no `if ...: raise ...` one-liners, no unused imports, no line
over 120 characters and few over 100, and no function grows past 8 parameters (options travel as one object:
`SamplingSpec`, `EvalSpec`, `TrainConfig`)."""
import ast, io, json, re, subprocess, sys, tokenize
from collections import Counter

from conftest import ROOT

PKG = ROOT/'ddpm_nb'
# Functions that still take more than 8 parameters; shrink this set, never grow it.
KNOWN_LONG = set()


def _ruff(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'ruff', *args], cwd=ROOT, capture_output=True, text=True)


def _modules() -> list:
    return sorted(p for p in PKG.glob('*.py') if p.name not in ('__init__.py', '_modidx.py'))


def _code_lines(p) -> list:
    "The lines of module `p` that we write: without nbdev's module docstring (line 1) and its `__all__` block."
    lines, skip = p.read_text(encoding='utf-8').splitlines(), {0}
    for i, line in enumerate(lines):
        if line.startswith('__all__'):
            j = i
            while not lines[j].rstrip().endswith(']'):
                j += 1
            skip |= set(range(i, j + 1))
    return [l for i, l in enumerate(lines) if i not in skip and l.strip() and not l.strip().startswith('#')]


def test_notebooks_are_formatted():
    r = _ruff('format', '--check', 'nbs')
    assert r.returncode == 0, f'run `ruff format nbs` then nbdev_export:\n{r.stdout}{r.stderr}'


def test_lint():
    "No `;` (E702, E703), no one-line `if ...: raise` (E701), no unused imports (F401) in the package."
    r = _ruff('check', '--select', 'E701,E702,E703,F401', '--output-format', 'concise', 'ddpm_nb')
    assert r.returncode == 0, r.stdout + r.stderr


def test_line_lengths():
    lines = [l for p in _modules() for l in _code_lines(p)]
    over = [l.strip() for l in lines if len(l) > 120]
    assert not over, f'lines over 120 characters: {over[:5]}'
    share = sum(len(l) > 100 for l in lines) / len(lines)
    assert share <= 0.05, f'{share:.1%} of code lines are over 100 characters (at most 5%)'


def test_parameter_counts():
    found = set()
    for p in _modules():
        for n in ast.walk(ast.parse(p.read_text(encoding='utf-8'))):
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
                a = n.args
                k = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + (a.vararg is not None) + (a.kwarg is not None)
                k -= bool(a.args) and a.args[0].arg in ('self', 'cls')
                if k > 8:
                    found.add(f'{p.stem}.{n.name}')
    assert not found - KNOWN_LONG, f'functions with more than 8 parameters (pass an options object): {found - KNOWN_LONG}'
    assert not KNOWN_LONG - found, f'fixed, so remove them from KNOWN_LONG: {KNOWN_LONG - found}'


# Equation citations in the package name the notebook that tags the equation: `25_fast_samplers eq. 5`,
# `03_posterior eqs. 3-4`, never a bare `eq. 5` or `(5)`, which a reader of the module cannot place.
NB_STEM = r'\d\d[a-z]?_[a-z0-9_]+'
CITATION = re.compile(rf'\b({NB_STEM}) eqs?\. (\d+[a-z]?)(?:-(\d+[a-z]?))?')
ANY_EQ = re.compile(r'\beqs?\.\s*\(?\d', re.I)
# a small number in parentheses inside prose, "(4)" or "(10b)", but not a call or index: `x.mean(1)`, `σ(1)`
BARE_NUMBER = re.compile(r'(?<![\w\])}.\'"])\((\d{1,2}b?)\)')


def _line(src, i) -> int: return src.count('\n', 0, i) + 1


def equation_tags(nb) -> Counter:
    "How often each equation number is defined in notebook `nb`'s Markdown: `\\tag{N}`, or `$...$. (N)` ending a line."
    tags = Counter()
    for c in json.loads(nb.read_text(encoding='utf-8'))['cells']:
        if c['cell_type'] == 'markdown':
            src = ''.join(c['source'])
            tags.update(re.findall(r'\\tag\{(\w+)\}', src))
            tags.update(re.findall(r'\$[.,]?[ \t]*\((\d+[a-z]?)\)[ \t]*$', src, re.M))
    return tags


def test_equation_citations_name_their_notebook():
    "Every `eq. N` in the package reads `<notebook> eq. N`; no parenthesised number stands alone in a comment or string."
    bare = []
    for p in _modules():
        src = p.read_text(encoding='utf-8')
        for m in ANY_EQ.finditer(src):
            if not (re.fullmatch(r'eqs?\. \d', m.group(0)) and re.search(rf'\b{NB_STEM} $', src[:m.start()])):
                bare.append(f'{p.name}:{_line(src, m.start())}: {m.group(0)!r}')
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type in (tokenize.COMMENT, tokenize.STRING):
                bare += [f'{p.name}:{tok.start[0]}: {m.group(0)!r}' for m in BARE_NUMBER.finditer(tok.string)]
    assert not bare, f'write citations as "03_posterior eq. 4" (the notebook that tags it); bare ones: {bare}'


def test_equation_citations_point_at_tagged_equations():
    "Each `<notebook> eq. N` names an existing notebook that tags equation N exactly once."
    tags, cited, wrong = {}, 0, []
    for p in _modules():
        src = p.read_text(encoding='utf-8')
        for m in CITATION.finditer(src):
            stem, first, last = m.groups()
            nb = ROOT/'nbs'/f'{stem}.ipynb'
            if not nb.exists():
                wrong.append(f'{p.name}:{_line(src, m.start())}: {m.group(0)!r}: there is no nbs/{nb.name}')
                continue
            if stem not in tags:
                tags[stem] = equation_tags(nb)
            nums = [first] if last is None else [first, last]
            if last is not None and first.isdigit() and last.isdigit():
                nums = [str(n) for n in range(int(first), int(last) + 1)]
            cited += 1
            for n in nums:
                if tags[stem][n] != 1:
                    wrong.append(f'{p.name}:{_line(src, m.start())}: {m.group(0)!r}: {stem} tags eq. {n} '
                                 f'{tags[stem][n]} times')
    assert cited >= 100, f'only {cited} citations found: is CITATION still the form the package uses?'
    assert not wrong, wrong
