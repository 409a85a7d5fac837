"""The package's layout holds: imports go down the layers, no cycles, no module too long.

docs/architecture.md draws the layers; this file is what keeps the drawing true. Each
check reads the sources (nothing is imported) and fails with a message that says what
to do. The same checks run first on small packages written here, so each one is shown
to fail on the defect it exists to catch.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "typed_sagemaker_runtime"
SOURCE = Path(__file__).resolve().parent.parent / "src" / PACKAGE
MAX_LINES = 500

# The layers from the bottom up (docs/architecture.md). A module's runtime imports may
# reach its own layer and those below, never one above; modules at the same rank in
# different layers (the sync and asyncio twins) do not import each other. Imports under
# TYPE_CHECKING are for annotations only and may point anywhere but the root.
LAYERS: Mapping[str, int] = {
    "_version": 0,
    "_core": 1,
    "_decoders": 2,
    "_llm": 3,
    "_telemetry": 4,
    "_base": 5,
    "_sync": 6,
    "_aio": 6,
    "testing": 7,
    "_cli": 8,
    "_ray": 9,
}


@dataclass(frozen=True)
class Import:
    """One import statement of a module: what it imports, and whether only for typing."""

    importer: str
    target: str
    line: int
    typing_only: bool


def module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def modules(root: Path, package: str) -> dict[str, Path]:
    return {module_name(path, root, package): path for path in sorted(root.rglob("*.py"))}


def _under_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, typing_only: bool) -> Iterator[tuple[ast.AST, bool]]:
    """Every node below ``node``, with whether it sits under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        yield child, typing_only
        if isinstance(child, ast.If) and _under_type_checking(child):
            for stmt in child.body:
                yield stmt, True
                yield from _walk(stmt, True)
            for stmt in child.orelse:
                yield stmt, typing_only
                yield from _walk(stmt, typing_only)
        else:
            yield from _walk(child, typing_only)


def _is_dynamic_import(node: ast.Call) -> bool:
    """``importlib.import_module("...")`` or ``__import__("...")`` with a literal name."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return (
        name in ("import_module", "__import__")
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def _names(node: ast.Call, index: int, name: str) -> bool:
    """Whether argument ``index`` of the call is the bare name ``name``."""
    args = node.args
    return len(args) > index and isinstance(args[index], ast.Name) and args[index].id == name  # type: ignore[attr-defined]


def _resolve(name: str, package: str) -> str:
    """An absolute module name for ``name``, relative (leading dots) to ``package``."""
    level = len(name) - len(name.lstrip("."))
    if not level:
        return name
    base = package.split(".")
    base = base[: len(base) - (level - 1)]
    rest = name[level:]
    return ".".join([*base, *([rest] if rest else [])])


def imports_of(name: str, path: Path, known: Mapping[str, Path]) -> list[Import]:
    """Every import in ``path``, resolved to the modules (or packages) of ``known`` it loads."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: list[Import] = []
    for node, typing_only in _walk(ast.parse(path.read_text(), str(path)), False):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                targets.append(submodule if submodule in known else origin)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            anchor = name if _names(node, 1, "__name__") else package
            targets = [_resolve(str(node.args[0].value), anchor)]  # type: ignore[attr-defined]
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                found.append(Import(name, target, getattr(node, "lineno", 0), typing_only))
    return found


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def root_imports(known: Mapping[str, Path]) -> list[str]:
    """Modules that import the package root: each one a load of the root from below."""
    return [
        f"{imp.importer} (line {imp.line}) imports the package root {PACKAGE}"
        for name, path in known.items()
        if name != PACKAGE
        for imp in imports_of(name, path, known)
        if imp.target == PACKAGE
    ]


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def loaded_by(importer: str, target: str, known: Mapping[str, Path]) -> set[str]:
    """What importing ``target`` from ``importer`` runs: ``target``, and the ``__init__`` of
    each package above it that is not already above ``importer`` (those run first)."""
    running = {importer, *_ancestors(importer)}
    return {m for m in (target, *_ancestors(target)) if m in known and m not in running}


def cycles(known: Mapping[str, Path]) -> list[list[str]]:
    """The runtime import cycles among ``known`` (one cycle per strongly connected group)."""
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for imp in imports_of(name, path, known):
            if not imp.typing_only:
                graph[name].update(loaded_by(name, imp.target, known))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def upward_imports(known: Mapping[str, Path], layers: Mapping[str, int]) -> list[str]:
    """Runtime imports that reach a higher layer, or a twin layer at the same rank."""
    found: list[str] = []
    for name, path in known.items():
        source = layer_of(name)
        if name == PACKAGE or source not in layers:
            continue
        for imp in imports_of(name, path, known):
            target = layer_of(imp.target)
            if imp.typing_only or target == source or target not in layers:
                continue
            if layers[target] >= layers[source]:
                found.append(
                    f"{name} (line {imp.line}) imports {imp.target}: layer {source} "
                    f"(rank {layers[source]}) may not import {target} (rank {layers[target]})"
                )
    return found


def long_modules(known: Mapping[str, Path], limit: int = MAX_LINES) -> list[str]:
    found = []
    for name, path in known.items():
        count = len(path.read_text().splitlines())
        if count > limit:
            found.append(f"{name}: {count} lines")
    return found


def unlayered(known: Mapping[str, Path], layers: Mapping[str, int]) -> list[str]:
    return sorted({layer_of(name) for name in known if name != PACKAGE} - set(layers))


# --- the package itself ------------------------------------------------------------

KNOWN = modules(SOURCE, PACKAGE)


def test_no_module_imports_the_package_root() -> None:
    """The root re-exports; nothing below it loads it back (that is how the layers stay lazy)."""
    found = root_imports(KNOWN)
    assert not found, (
        "\n".join(found) + "\nImport the name from the private module that defines it "
        "(for example `from .._core._exceptions import ModelError`). To make a public class "
        "name the package in reprs and tracebacks, decorate it with `@public` "
        "(from `_core/_public.py`) where it is defined."
    )


def test_there_is_no_runtime_import_cycle() -> None:
    """Modules form a tree of imports at run time; a cycle means a layer reaches upward."""
    found = cycles(KNOWN)
    assert not found, (
        "runtime import cycles:\n"
        + "\n".join(" <-> ".join(group) for group in found)
        + "\nMove what both modules need into a module below both, or import it under "
        "`if TYPE_CHECKING:` when it is only needed for annotations."
    )


def test_imports_only_go_down_the_layers() -> None:
    """Each layer imports only its own and lower layers at run time (docs/architecture.md)."""
    found = upward_imports(KNOWN, LAYERS)
    assert not found, (
        "\n".join(found) + "\nMove the shared piece down (sans-I/O logic belongs in _core, "
        "_decoders or _base), or import it under `if TYPE_CHECKING:` for annotations only. "
        "The layers are drawn in docs/architecture.md."
    )


def test_every_subpackage_has_a_place_in_the_layers() -> None:
    """A new subpackage is placed in the drawing (and in LAYERS) before it lands."""
    missing = unlayered(KNOWN, LAYERS)
    assert not missing, (
        f"subpackages or top-level modules with no layer: {missing}. Add each to LAYERS in "
        "tests/test_structure.py and to the diagram in docs/architecture.md."
    )


def test_no_module_is_longer_than_500_lines() -> None:
    """Short modules: past 500 lines a module holds more than one concern."""
    found = long_modules(KNOWN)
    assert not found, (
        "\n".join(found) + f"\nSplit each along a real seam (one stream format, one "
        f"concern, one subcommand per module), never by cutting it in half; keep each under "
        f"{MAX_LINES} lines. docs/architecture.md says where each kind of code lives."
    )


def test_every_subpackage_and_module_says_what_it_owns() -> None:
    """A module docstring on every module, so the tree reads as the architecture."""
    bare = [
        name
        for name, path in KNOWN.items()
        if ast.get_docstring(ast.parse(path.read_text())) is None
    ]
    assert not bare, f"modules without a docstring: {bare}"


# --- the checks catch what they exist to catch ---------------------------------------


def _package(tmp_path: Path, files: Mapping[str, str]) -> dict[str, Path]:
    root = tmp_path / PACKAGE
    for relative, text in {"__init__.py": '"""root"""\n', **files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return modules(root, PACKAGE)


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("from .. import ModelError\n", 1),
        ("from typed_sagemaker_runtime import ModelError\n", 1),
        ("import typed_sagemaker_runtime\n", 1),
        ("def f():\n    from .. import ModelError\n", 2),
        ("import importlib\nimportlib.import_module('typed_sagemaker_runtime')\n", 2),
        ("import importlib\nimportlib.import_module('..', __package__)\n", 2),
    ],
)
def test_the_root_import_check_finds_each_form(tmp_path: Path, source: str, line: int) -> None:
    known = _package(tmp_path, {"_core/__init__.py": "", "_core/_a.py": source})
    assert root_imports(known) == [
        f"{PACKAGE}._core._a (line {line}) imports the package root {PACKAGE}"
    ]


def test_the_root_import_check_allows_submodules_and_typing(tmp_path: Path) -> None:
    known = _package(
        tmp_path,
        {
            "_core/__init__.py": "",
            "_core/_a.py": "from .._core import _b\nfrom ._b import x\n",
            "_core/_b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\n",
        },
    )
    assert root_imports(known) == []


def test_the_cycle_check_finds_a_runtime_cycle_and_ignores_type_checking(tmp_path: Path) -> None:
    files = {
        "_core/__init__.py": "",
        "_core/_a.py": "from ._b import x\n",
        "_core/_b.py": "from ._c import y\n",
        "_core/_c.py": "def f():\n    from ._a import z\n",
        "_core/_d.py": "from ._e import x\n",
        "_core/_e.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ._d import y\n"
        ),
    }
    known = _package(tmp_path, files)
    assert cycles(known) == [[f"{PACKAGE}._core._a", f"{PACKAGE}._core._b", f"{PACKAGE}._core._c"]]


def test_the_layer_check_finds_an_upward_and_a_sideways_import(tmp_path: Path) -> None:
    known = _package(
        tmp_path,
        {
            "_core/__init__.py": "",
            "_core/_a.py": "from .._sync._client import C\n",
            "_sync/__init__.py": "",
            "_sync/_client.py": "from .._core._a import x\nfrom .._aio._client import A\n",
            "_aio/__init__.py": "",
            "_aio/_client.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from .._sync._client import C\n"
            ),
        },
    )
    found = upward_imports(known, LAYERS)
    assert [line.split(" (")[0] for line in found] == [
        f"{PACKAGE}._core._a",
        f"{PACKAGE}._sync._client",
    ]
    assert "may not import _sync" in found[0]
    assert "may not import _aio" in found[1]


def test_the_length_check_counts_lines(tmp_path: Path) -> None:
    known = _package(tmp_path, {"_core/__init__.py": "", "_core/_a.py": "x = 1\n" * 501})
    assert long_modules(known) == [f"{PACKAGE}._core._a: 501 lines"]
    assert long_modules(known, limit=501) == []


def test_an_unplaced_subpackage_is_found(tmp_path: Path) -> None:
    known = _package(tmp_path, {"_bulk/__init__.py": "", "_core/__init__.py": ""})
    assert unlayered(known, LAYERS) == ["_bulk"]


def test_the_cycle_check_sees_the_package_init_an_import_runs(tmp_path: Path) -> None:
    """Importing ``_backends._m`` runs ``_backends/__init__``, which may import back."""
    known = _package(
        tmp_path,
        {
            "testing/__init__.py": "",
            "testing/_server/__init__.py": "",
            "testing/_server/_a.py": "from .._backends._m import z\n",
            "testing/_backends/__init__.py": "from .._server._a import q\n",
            "testing/_backends/_m.py": "z = 1\n",
            "testing/_ok/__init__.py": "from ._b import x\n",
            "testing/_ok/_b.py": "from ._c import y\n",
            "testing/_ok/_c.py": "y = 1\n",
        },
    )
    assert cycles(known) == [[f"{PACKAGE}.testing._backends", f"{PACKAGE}.testing._server._a"]]
