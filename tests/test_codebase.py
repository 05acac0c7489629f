"""The shape of src/, read with `ast` (nothing is imported): no import cycle between its packages, no
private helper imported across packages, and no module but src/job_folder.py naming the job folder's
record, config or history files (every other module goes through it).

A "package" is a top-level entry of src/: a folder (src/train) or a module (src/redact.py). Every import
counts, also one inside a function or under TYPE_CHECKING: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
#: The job folder's files that only src/job_folder.py may name (src/job_folder.py's docstring).
JOB_FOLDER_FILES = ("config.yaml", "job.json", "history.csv")
JOB_FOLDER_MODULE = "job_folder.py"


def package_of(path: Path, src: Path) -> str:
    parts = path.relative_to(src).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def module_name(path: Path, src: Path) -> list[str]:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imports(path: Path, src: Path) -> list[tuple[int, list[str], list[str]]]:
    """(line, imported module as parts after ``src``, imported names) of every import of ``src`` in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[1:], []) for alias in node.names
                      if alias.name.split(".")[0] == src.name]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this module's package
                here = module_name(path, src)
                base = here if path.name == "__init__.py" else here[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.split(".")[0] == src.name:
                module = node.module.split(".")[1:]
            else:
                continue
            names = [alias.name for alias in node.names]
            if not module:  # from src import train
                found += [(node.lineno, [name], []) for name in names]
            else:
                found.append((node.lineno, module, names))
    return found


def package_graph(src: Path) -> dict[str, dict[str, list[str]]]:
    """package -> {package it imports: ["file:line", ...]}."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(src.rglob("*.py")):
        mine = package_of(path, src)
        graph[mine]  # a package that imports nothing is still a node
        for line, module, _ in imports(path, src):
            if module and module[0] != mine:
                graph[mine][module[0]].append(f"{path.relative_to(src.parent)}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, {}):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def private_imports(src: Path) -> list[str]:
    """``file:line: from src.x import _name`` for every private name (or private module) imported from
    another package."""
    found = []
    for path in sorted(src.rglob("*.py")):
        mine = package_of(path, src)
        for line, module, names in imports(path, src):
            if not module or module[0] == mine:
                continue
            private = [n for n in names if n.startswith("_")] + [m for m in module if m.startswith("_")]
            if private:
                found.append(f"{path.relative_to(src.parent)}:{line}: from src.{'.'.join(module)} import {', '.join(private)}")
    return found


def job_folder_literals(src: Path) -> list[str]:
    """``file:line: 'literal'`` for every string literal outside src/job_folder.py that is a path to one of
    JOB_FOLDER_FILES (``"config.yaml"``, ``".hydra/config.yaml"``, ``"*/job.json"``); prose that mentions
    them (docstrings, messages) is not a path and passes."""
    found = []
    for path in sorted(src.rglob("*.py")):
        if path.relative_to(src).as_posix() == JOB_FOLDER_MODULE:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.strip()
                if not any(c.isspace() for c in text) and text.rsplit("/", 1)[-1] in JOB_FOLDER_FILES:
                    found.append(f"{path.relative_to(src.parent)}:{node.lineno}: {node.value!r}")
    return found


def test_src_packages_import_each_other_without_cycles():
    graph = package_graph(SRC)
    assert {"train", "tracking", "report", JOB_FOLDER_MODULE.removesuffix(".py")} <= set(graph)  # the walk saw src/
    found = cycles(graph)
    explained = [" ⇄ ".join(c) + ": " + "; ".join(f"{a} -> {b} ({', '.join(graph[a][b][:3])})"
                                                  for a in c for b in c if b in graph[a]) for c in found]
    assert not found, "import cycles between src/ packages (move the shared piece down or invert the dependency):\n" + "\n".join(explained)


def test_no_private_helper_is_imported_from_another_package():
    found = private_imports(SRC)
    assert not found, "private names imported across packages (give them a public name in the right package):\n" + "\n".join(found)


def test_only_the_job_folder_module_names_the_job_folders_files():
    found = job_folder_literals(SRC)
    assert not found, ("job folder files named outside src/job_folder.py (read and write them through it):\n"
                       + "\n".join(found))


@pytest.fixture
def bad_tree(tmp_path: Path) -> Path:
    """A small src/ with one of each fault the checks above look for."""
    src = tmp_path / "src"
    for package in ("train", "report", "export"):
        (src / package).mkdir(parents=True)
        (src / package / "__init__.py").write_text("")
    (src / "train" / "loop.py").write_text("def f():\n    from src.report.curves import plot\n")
    (src / "report" / "curves.py").write_text("from ..train import loop\nplot = 1\n")
    (src / "export" / "tflite.py").write_text("def _atomic_write():\n    pass\n")
    (src / "report" / "mobile.py").write_text(
        'from src.export.tflite import _atomic_write\nfrom src.report.curves import plot as _plot\n'
        'PATH = ".hydra/config.yaml"\nMESSAGE = "needs a config.yaml"\n')
    (src / "job_folder.py").write_text('JOB_FILE = "job.json"\n')
    return src


def test_the_checks_find_a_cycle_a_private_import_and_a_direct_path(bad_tree: Path):
    assert cycles(package_graph(bad_tree)) == [["report", "train"]]  # a lazy and a relative import
    assert private_imports(bad_tree) == ["src/report/mobile.py:1: from src.export.tflite import _atomic_write"]
    assert job_folder_literals(bad_tree) == ["src/report/mobile.py:3: '.hydra/config.yaml'"]
