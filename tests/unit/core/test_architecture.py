"""The dependency direction of the design card: gateway, tasks, scheduler → services, never back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
UPPER_LAYERS = ("gateway", "tasks", "scheduler", "cli", "simulator", "bench")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "services").rglob("*.py")), ids=str)
def test_services_import_no_upper_layer(path: Path) -> None:
    assert not (_imports(path) & set(UPPER_LAYERS)), f"{path} imports an upper layer"


@pytest.mark.parametrize("path", sorted((ROOT / "gateway").rglob("*.py")), ids=str)
def test_gateway_does_not_import_tasks_or_scheduler(path: Path) -> None:
    assert not (_imports(path) & {"tasks", "scheduler", "cli"})


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from gateway.app import create_app\nimport tasks.worker\n")
    assert _imports(bad) >= {"gateway", "tasks"}
