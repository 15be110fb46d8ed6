"""The shape of the code: policy and served methods agree, one clock, small modules, servicers in
services/, and the CLI used only as a command."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from jukinet.core import methods
from jukinet.core.errors import Reason, RefusedError, status_code_of
from jukinet.trust.authz import POLICY
from services import spec_for
from services.ca import SPEC as CA
from services.cs import SPEC as CS
from services.fuhyo.server import SPEC as FUHYO
from services.national.server import SPEC as NATIONAL
from services.prefecture.server import SPEC as PREFECTURE

ROOT = Path(__file__).resolve().parent.parent
SPECS = (CS, PREFECTURE, FUHYO, NATIONAL, CA)
# Every node also serves these (runtime/node.py registers them).
COMMON = (methods.HEALTH_SERVICE, methods.REFLECTION_SERVICE)


def _served(service_names: tuple[str, ...]) -> set[str]:
    return {path for name in (*service_names, *COMMON) for path in methods.methods_of(name)}


def test_every_served_method_has_a_policy_entry_and_every_entry_is_served() -> None:
    served_anywhere: set[str] = set()
    for spec in SPECS:
        served = _served(spec.service_names)
        assert served - set(POLICY) == set(), f"{spec.role} serves methods the policy lacks"
        served_anywhere |= served
    assert set(POLICY) - served_anywhere == set(), "policy entries name no served method"


def test_each_node_kind_serves_node_admin_and_is_found_by_role() -> None:
    for spec in SPECS:
        assert methods.NODE_ADMIN_SERVICE in spec.service_names
        assert spec_for(spec.role) is spec


def test_every_reason_has_one_status_code() -> None:
    for reason in Reason:
        refusal = RefusedError(reason)
        assert refusal.code is status_code_of(reason) and refusal.code is not grpc.StatusCode.OK
        assert refusal.message and reason.value == reason.name


def _modules(*tops: str) -> Iterator[Path]:
    for top in tops:
        yield from (ROOT / top).rglob("*.py")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules("jukinet", "services")
        if "migrations" not in p.parts and (n := len(p.read_text().splitlines())) > 400
    }
    assert long == {}


def _called_names(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield ast.unparse(node.func)


def test_the_time_is_read_only_through_the_clock() -> None:
    readers = ("datetime.now", "datetime.utcnow", "time.time", "date.today")
    found = {
        f"{p.relative_to(ROOT)}: {name}"
        for p in _modules("jukinet", "services")
        if p != ROOT / "jukinet" / "core" / "clock.py"
        for name in _called_names(_tree(p))
        if name.endswith(readers)
    }
    assert found == set()


def _imported(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_only_servicers_read_the_caller_from_the_rpc_context() -> None:
    readers = {
        str(p.relative_to(ROOT))
        for p in _modules("jukinet")
        if p != ROOT / "jukinet" / "trust" / "authz.py"
        and "jukinet.trust.authz.current_caller" in set(_imported(_tree(p)))
    }
    assert readers == set()


@pytest.mark.parametrize("top", ["tests", "bench"])
def test_nothing_imports_the_cli(top: str) -> None:
    importers = {
        str(p.relative_to(ROOT))
        for p in _modules(top)
        if any(name.split(".")[:2] == ["jukinet", "cli"] for name in _imported(_tree(p)))
    }
    assert importers == set()
