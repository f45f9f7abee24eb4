"""The domain does no I/O: it imports no driver, framework or network library, and never reads
the clock or makes its own ids (they are passed in). One check for every service's domain."""

import ast
from pathlib import Path

import pytest

import services.audit.domain
import services.plumbing.working_days
import services.referral.domain

# Each service's domain package, with modules it must have (so that the glob found them).
DOMAINS = {
    services.referral.domain: {"referral", "agreements", "consents", "errors"},
    services.audit.domain: {"chain", "entries", "timelines", "errors"},
}
# Shared rules that every service's domain may use: pure too, and checked as a domain is.
PURE_PLUMBING = {services.plumbing.working_days}
MODULES = sorted(
    [
        *(path for package in DOMAINS for path in Path(str(package.__file__)).parent.glob("*.py")),
        *(Path(str(module.__file__)) for module in PURE_PLUMBING),
    ]
)
FORBIDDEN_IMPORTS = {
    "asyncpg",
    "fastapi",
    "faststream",
    "aiokafka",
    "httpx",
    "starlette",
    "socket",
    "os",
    "subprocess",
    "random",
    "secrets",
    "time",
    "services.plumbing",
}
FORBIDDEN_CALLS = {"now", "today", "utcnow", "uuid4", "uuid1", "time", "monotonic"}


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
    return names


def _calls(tree: ast.AST) -> set[str]:
    called: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                called.add(node.func.attr)
            elif isinstance(node.func, ast.Name):
                called.add(node.func.id)
    return called


@pytest.mark.parametrize("package", DOMAINS, ids=lambda package: package.__name__)
def test_there_are_domain_modules_to_check(package: object) -> None:
    folder = Path(str(getattr(package, "__file__", ""))).parent
    assert {path.stem for path in folder.glob("*.py")} >= DOMAINS[package]  # type: ignore[index]


@pytest.mark.parametrize("path", MODULES, ids=lambda path: f"{path.parent.parent.name}.{path.name}")
def test_a_domain_module_imports_no_io(path: Path) -> None:
    imported = _imports(ast.parse(path.read_text()))

    pure = {module.__name__ for module in PURE_PLUMBING}
    assert not {name for name in imported if name.split(".")[0] in FORBIDDEN_IMPORTS} | {
        name for name in imported if name.startswith("services.plumbing") and name not in pure
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda path: f"{path.parent.parent.name}.{path.name}")
def test_a_domain_module_never_reads_the_clock_or_makes_ids(path: Path) -> None:
    assert not _calls(ast.parse(path.read_text())) & FORBIDDEN_CALLS
