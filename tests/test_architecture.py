"""The package's shape: no import cycles, small modules, no routing by hypothesis name.

Imports are read from the source by grimp (every ``import`` statement, those inside
functions too, since a lazy import is still a dependency), except those under
``if TYPE_CHECKING:``, which exist for annotations only.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "emergence"
# one job that needs more room, with the reason (DESIGN: small modules, one per stage)
LARGE_OK = {
    "emergence/corpus/sample.py": "the sample corpus's generator: its shelves of titles and phrases are data",
}
MAX_LINES = 500


def _graph():
    grimp = pytest.importorskip("grimp")
    return grimp.build_graph("emergence", include_external_packages=False, exclude_type_checking_imports=True)


def strongly_connected(nodes: set[str], edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components (iterative), largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[set[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = set()
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.add(top)
                        if top == node:
                            break
                    out.append(comp)
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(out, key=len, reverse=True)


def test_scc_finds_a_planted_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    comps = strongly_connected({"a", "b", "c", "d"}, edges)
    assert comps[0] == {"a", "b", "c"} and {"d"} in comps


def test_no_import_cycles_between_modules():
    graph = _graph()
    nodes = set(graph.modules)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in nodes}
    cycles = [c for c in strongly_connected(nodes, edges) if len(c) > 1]
    described = []
    for comp in cycles:
        first = sorted(comp)[0]
        back = next(m for m in sorted(comp) if first in edges[m])
        chain = graph.find_shortest_chain(importer=first, imported=back)
        described.append(" -> ".join([*chain, first]))
    assert not cycles, "import cycles:\n" + "\n".join(described)


def test_modules_stay_small():
    big = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).as_posix()
        n = sum(1 for _ in path.open(encoding="utf-8"))
        if n > MAX_LINES and rel not in LARGE_OK:
            big[rel] = n
    assert not big, f"modules over {MAX_LINES} lines (split them, or say in LARGE_OK why one job needs it): {big}"


def test_verdicts_never_route_by_hypothesis_name():
    hits = []
    for path in (ROOT / "verdict").rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"name\s*==", line):
                hits.append(f"{path.name}:{number}: {line.strip()}")
    assert not hits, hits
