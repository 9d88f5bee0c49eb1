"""The layers import downwards only: the library (`ingestion`) knows nothing of the application
(`lakehouse`), and neither knows the orchestration (`orchestration`), which sits on both."""

from __future__ import annotations

import ast

import pytest

from ingestion.config import PROJECT_ROOT

pytestmark = pytest.mark.fast

LAYERS = ("ingestion", "lakehouse", "orchestration")


def _imported_packages(package: str) -> dict[str, set[str]]:
    """For each module of `package`, the top-level packages it imports (anywhere in its code)."""
    imported = {}
    for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        imported[str(path.relative_to(PROJECT_ROOT))] = names
    return imported


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_a_layer_imports_no_layer_above_it(layer):
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    upward = {module: sorted(names & above) for module, names in _imported_packages(layer).items() if names & above}
    assert upward == {}
