"""The package's import graph, read from the source: no library module imports the command line, no circles, and
no module imports another's private (`_name`) names. The design section of README ("How the package is built")
and 09_train describe the layers this keeps honest."""
import ast

from conftest import ROOT

PKG = ROOT/'ddpm_nb'
CLI = 'cli'
# Exceptions to the rules below (none: keep it that way)
KNOWN = set()


def _imports(path) -> list:
    "(module, [names]) for every package import in file `path`, at any depth (function-level imports count too)."
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level == 1 or mod.startswith('ddpm_nb'):
                mod = mod.removeprefix('ddpm_nb').lstrip('.')
                if not mod:        # `from . import x` / `from ddpm_nb import x`: x is a module
                    out += [(a.name, []) for a in node.names]
                else:
                    out.append((mod, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name.removeprefix('ddpm_nb.'), []) for a in node.names if a.name.startswith('ddpm_nb.')]
    return out


def graph() -> dict:
    "module -> {(imported module, [names])}, for every module of the package."
    mods = {p.stem: p for p in PKG.glob('*.py') if p.stem not in ('__init__', '_modidx')}
    return {m: [(d, names) for d, names in _imports(p) if d in mods] for m, p in mods.items()}


def edges(g) -> set:
    return {(m, d) for m, deps in g.items() for d, _ in deps if (m, d) not in KNOWN}


# ddpm_demo's module: a command of its own on top of the command line (it parses its flags with cli's run_cli)
COMMANDS = (CLI, 'demo')


def test_no_library_module_imports_the_cli():
    bad = sorted(m for m, d in edges(graph()) if d in COMMANDS and m not in COMMANDS)
    assert not bad, f'library modules import {COMMANDS}: {bad}; move what they need out of the command-line modules'
    assert (CLI, 'demo') not in edges(graph()), 'cli imports demo: the command line would need gradio'


def test_no_cycles():
    e = edges(graph())
    succ = {}
    for m, d in e:
        succ.setdefault(m, set()).add(d)
    state = {}

    def visit(m, path):
        state[m] = 'open'
        for d in sorted(succ.get(m, ())):
            if state.get(d) == 'open':
                raise AssertionError('import cycle: ' + ' -> '.join(path[path.index(d):] + [d]))
            if d not in state:
                visit(d, path + [d])
        state[m] = 'done'

    for m in sorted(graph()):
        if m not in state:
            visit(m, [m])


def test_no_private_names_across_modules():
    bad = sorted(f'{m} imports {d}.{n}' for m, deps in graph().items() for d, names in deps for n in names
                 if n.startswith('_') and (m, f'{d}.{n}') not in KNOWN)
    assert not bad, 'private names shared between modules (make them public, documented and tested): ' + '; '.join(bad)


def test_the_layers_of_training():
    "The training modules import only downwards: files < objective < config < checkpoint < train < cli."
    layers = ['files', 'objective', 'config', 'checkpoint', 'train', 'cli']
    e = edges(graph())
    for i, m in enumerate(layers):
        up = [d for a, d in e if a == m and d in layers[i + 1:]]
        assert not up, f'{m} imports {up}, which are above it'


# ---- imports name what they use, from the module that owns it ---------------------------------------------------
# Waiting for the chapters being rewritten (issue 23); each entry must still be true, so the lists only shrink.
PENDING_UNUSED = set()
PENDING_NOT_OWNER = set()


def _modules() -> dict:
    return {p.stem: p for p in sorted(PKG.glob('*.py')) if p.stem not in ('__init__', '_modidx')}


def _top_level(tree) -> list:
    "The statements run at import time: the module's body, and the bodies of its top-level `if`/`try` blocks."
    out, todo = [], list(tree.body)
    while todo:
        s = todo.pop(0)
        out.append(s)
        if isinstance(s, (ast.If, ast.Try)):
            todo += [*s.body, *s.orelse, *getattr(s, 'finalbody', []), *(x for h in getattr(s, 'handlers', []) for x in h.body)]
    return out


def _used(tree) -> set:
    "Every name the module reads, including those inside string annotations."
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        anns = []
        if isinstance(node, ast.arg | ast.AnnAssign):
            anns = [node.annotation]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            anns = [node.returns]
        for a in anns:
            if isinstance(a, ast.Constant) and isinstance(a.value, str):
                used |= {n.id for n in ast.walk(ast.parse(a.value, mode='eval')) if isinstance(n, ast.Name)}
    return used


def _dunder_all(tree) -> set:
    for s in tree.body:
        if isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == '__all__' for t in s.targets):
            return set(ast.literal_eval(s.value))
    return set()


def unused_imports() -> set:
    "(module, name) for every name a package module imports at module level and never uses (nor lists in __all__)."
    bad = set()
    for m, p in _modules().items():
        tree = ast.parse(p.read_text(encoding='utf-8'))
        keep = _used(tree) | _dunder_all(tree)
        for s in _top_level(tree):
            if isinstance(s, ast.Import):
                bound = [a.asname or a.name.split('.')[0] for a in s.names]
            elif isinstance(s, ast.ImportFrom) and s.module != '__future__':
                bound = [a.asname or a.name for a in s.names if a.name != '*']
            else:
                continue
            bad |= {(m, n) for n in bound if n not in keep}
    return bad


def test_no_unused_imports():
    "A module imports what it uses: no unused import, and no name imported only to be imported from here by others."
    found = unused_imports()
    bad = sorted(found - PENDING_UNUSED)
    assert not bad, 'unused imports (import the name where it is used, from the module that defines it): ' + \
        ', '.join(f'{m}: {n}' for m, n in bad)
    stale = sorted(PENDING_UNUSED - found)
    assert not stale, f'fixed, so remove them from PENDING_UNUSED: {stale}'


def _defined(p) -> set:
    "Names module file `p` defines itself at module level (functions, classes, assignments), not those it imports."
    out = set()
    for s in _top_level(ast.parse(p.read_text(encoding='utf-8'))):
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(s.name)
        elif isinstance(s, ast.Assign | ast.AnnAssign | ast.AugAssign):
            for t in (s.targets if isinstance(s, ast.Assign) else [s.target]):
                out |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return out


def _sources():
    "(file relative to the repository, source) for the package, tools, benchmarks, tests and every notebook cell."
    import json
    for p in sorted([*PKG.glob('*.py'), *(ROOT/'tools').glob('*.py'), *(ROOT/'benchmarks').glob('*.py'),
                     *(ROOT/'tests').glob('*.py')]):
        yield p, p.read_text(encoding='utf-8')
    for p in sorted((ROOT/'nbs').glob('*.ipynb')):
        for c in json.loads(p.read_text(encoding='utf-8'))['cells']:
            if c['cell_type'] == 'code':   # IPython's `%magic` and `!shell` lines are not Python
                yield p, '\n'.join(l for l in ''.join(c['source']).splitlines() if not l.lstrip().startswith(('%', '!')))


def imports_not_from_owner() -> set:
    "(file, module, name) for every `from ddpm_nb.module import name` where the module does not define the name."
    mods = _modules()
    defined = {m: _defined(p) for m, p in mods.items()}
    bad = set()
    for p, src in _sources():
        for node in ast.walk(ast.parse(src)):
            if not isinstance(node, ast.ImportFrom):
                continue
            mod = node.module or ''
            if not (node.level == 1 and p.parent == PKG or mod.startswith('ddpm_nb.')):
                continue
            m = mod.removeprefix('ddpm_nb.')
            if m in mods:
                bad |= {(str(p.relative_to(ROOT)), m, a.name) for a in node.names if a.name not in defined[m]}
    return bad


def test_imports_name_the_owner():
    "Notebooks, tools, benchmarks, tests and the package import every name from the module that defines it."
    found = imports_not_from_owner()
    bad = sorted(found - PENDING_NOT_OWNER)
    assert not bad, 'import these from the module that defines them: ' + \
        ', '.join(f'{f}: {n} (not defined in {m})' for f, m, n in bad)
    stale = sorted(PENDING_NOT_OWNER - found)
    assert not stale, f'fixed, so remove them from PENDING_NOT_OWNER: {stale}'
