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


def test_no_library_module_imports_the_cli():
    bad = sorted(m for m, d in edges(graph()) if d == CLI)
    assert not bad, f'library modules import {CLI}: {bad}; move what they need out of the command-line module'


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
