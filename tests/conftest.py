"""Shared by the tests: the notebook list, and one executed copy of each notebook per pytest session.

`executed` (session fixture) runs a notebook through nbdev's own `test_nb` (tools/execute_nbs.py) and
keeps the copy with outputs in pytest's temporary folder. tests/test_notebooks.py fills it, one test
per notebook; the docs check (tests/test_docs.py) renders what is there, so the notebooks are
executed once. Docs tests are moved to the end of the run so that they find the copies.
"""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from execute_nbs import notebooks, execute, skip_flags  # noqa: E402

NBS = notebooks()


class Executed:
    "Executed copies of notebooks made in this session: `run` executes once, `ok`/`path` look it up."
    def __init__(self, folder):
        self.folder, self.ok = Path(folder), {}

    def path(self, nb): return self.folder/Path(nb).name

    def run(self, nb):
        "Execute `nb` (if not yet done this session) and return whether it passed."
        nb = Path(nb)
        if nb.name not in self.ok:
            self.ok[nb.name], _ = execute(nb, self.path(nb), skip=skip_flags(), showerr=True)
        return self.ok[nb.name]


@pytest.fixture(scope='session')
def executed(tmp_path_factory):
    return Executed(tmp_path_factory.mktemp('executed'))


def pytest_collection_modifyitems(session, config, items):
    "Run the docs tests after the notebook tests, whose executed copies they render."
    items.sort(key=lambda item: Path(str(item.fspath)).name == 'test_docs.py')
