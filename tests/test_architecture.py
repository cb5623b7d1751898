"""The package's shape: no import cycles, vendor SDKs and store modules where they belong."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.runner import REPO

PACKAGE = REPO / "credctl"
VENDOR_SDKS = ("boto3", "botocore", "hvac", "requests", "urllib3")
STORE_MODULES = ("credctl.backends.aws", "credctl.backends.vault", "credctl.backends.local")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str) -> set[str]:
    """What a module imports when it runs, at its top or inside a function (imports
    under `if TYPE_CHECKING:` are for the type checker only)."""
    found: set[str] = set()
    pending: list[ast.AST] = [ast.parse(MODULES[name].read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                pending.extend(child.orelse)
            elif isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = name.split(".")
                    if MODULES[name].name != "__init__.py":
                        package = package[:-1]
                    package = package[: len(package) - child.level + 1]
                    base = ".".join([*package, base] if base else package)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
            else:
                pending.append(child)
    return found


def own_imports(name: str) -> set[str]:
    """The package's modules `name` imports (a name imported from a module counts as it)."""
    modules = set()
    for target in imported(name):
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != name:
            modules.add(target)
    return modules


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycles() -> None:
    graph = {name: own_imports(name) for name in MODULES}
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(" <-> ".join(group) for group in found)


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_vendor_sdks_are_imported_by_their_store_modules_only() -> None:
    for name in MODULES:
        vendors = {target for target in imported(name) if target.split(".")[0] in VENDOR_SDKS}
        if name in ("credctl.backends.aws", "credctl.backends.vault"):
            continue
        assert not vendors, f"{name} imports {sorted(vendors)}"


def test_only_the_backends_package_knows_the_store_modules() -> None:
    """Everything else opens stores through the registry (`credctl.backends.pool`)."""
    for name in MODULES:
        if name.startswith("credctl.backends."):
            continue
        stores = own_imports(name) & set(STORE_MODULES)
        assert not stores, f"{name} imports {sorted(stores)}"


def test_commands_are_click_only_and_short() -> None:
    """A command parses its options, calls one operation and emits: at most 25 lines."""
    for path in sorted((PACKAGE / "cli" / "commands").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.FunctionDef) or not node.decorator_list:
                continue
            body = node.body
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]  # the docstring
            lines = (body[-1].end_lineno or 0) - body[0].lineno + 1
            assert lines <= 25, f"{path.name}: {node.name} has a {lines}-line body"


def test_the_library_never_imports_click() -> None:
    for name in MODULES:
        if name.startswith("credctl.cli"):
            continue
        assert "click" not in {target.split(".")[0] for target in imported(name)}, name


def test_nothing_cites_a_document_outside_the_repository() -> None:
    """What the code cites (the rotation protocol, exit codes, JSON documents) is in docs/."""
    texts = [*PACKAGE.rglob("*.py"), *(REPO / "docs").rglob("*.md"), REPO / "README.md"]
    for path in texts:
        assert "DESIGN" not in path.read_text(encoding="utf-8"), path


TESTS = REPO / "tests"


def test_no_test_module_imports_another() -> None:
    """Shared helpers, fixtures and seeding live in tests/support/ (or conftest.py)."""
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if any(part.startswith("test_") or part == "conftest" for part in name.split(".")):
                    found.append(f"{path.relative_to(REPO)} imports {name}")
    assert not found, "\n".join(found)
