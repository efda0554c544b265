"""The package's layers only point down: data <- models <- modules <- tasks <- reports <- cli.

Every ``deepvideo`` import in ``src/deepvideo`` is read with ``ast`` (module level and inside
functions alike) and checked against the rank of its layer. Inside a layer package (``data``,
``models``, ``modules``, ``reports``, ``synthetic``) modules may import each other; the tasks are
separate modules that never import each other (what two tasks share lives in ``runs``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "deepvideo"

# layer -> rank; an import must go to a strictly lower rank, or stay inside its own package layer
RANKS: dict[str, int] = {
    "deepvideo.errors": 0,
    "deepvideo.utils": 0,
    "deepvideo.resources": 0,
    "deepvideo.synthetic": 1,
    "deepvideo.data": 2,
    "deepvideo.metrics": 2,
    "deepvideo.models": 3,
    "deepvideo.checkpoint": 4,
    "deepvideo.scores": 4,
    "deepvideo.modules": 5,
    "deepvideo.runs": 6,
    "deepvideo.training": 7,
    "deepvideo.evaluation": 7,
    "deepvideo.prediction": 7,
    "deepvideo.transfer": 7,
    "deepvideo.reports": 8,
    "deepvideo.cli": 9,
}
PACKAGE_LAYERS = {
    "deepvideo.data",
    "deepvideo.models",
    "deepvideo.modules",
    "deepvideo.reports",
    "deepvideo.synthetic",
    "deepvideo.utils",
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in RANKS:
            return name
    raise KeyError(module)


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def deepvideo_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("deepvideo")]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith("deepvideo")
        ):
            found.append((node.lineno, str(node.module)))
    return found


def upward_imports() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = module_name(path)
        if here == "deepvideo":
            continue
        source_layer = layer_of(here)
        for line, target in deepvideo_imports(path):
            if target == "deepvideo":
                problems.append(f"{path.name}:{line} imports the top package")
                continue
            target_layer = layer_of(target)
            if target_layer == source_layer and source_layer in PACKAGE_LAYERS:
                continue
            if RANKS[target_layer] >= RANKS[source_layer]:
                problems.append(
                    f"{here} (line {line}) imports {target}: {source_layer} (rank "
                    f"{RANKS[source_layer]}) may not import {target_layer} (rank "
                    f"{RANKS[target_layer]})"
                )
    return problems


def test_every_module_has_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        if name != "deepvideo":
            layer_of(name)  # raises KeyError for a module outside every layer


def test_layers_only_point_down() -> None:
    assert upward_imports() == []


def test_the_check_catches_an_upward_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "deepvideo"
    (fake / "data").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "data" / "__init__.py").write_text("")
    (fake / "data" / "bad.py").write_text("def f():\n    from deepvideo.training import train\n")
    (fake / "training.py").write_text("from deepvideo.evaluation import evaluate\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    problems = upward_imports()
    assert any("deepvideo.data.bad" in p and "deepvideo.training" in p for p in problems)
    assert any("deepvideo.training" in p and "deepvideo.evaluation" in p for p in problems)
