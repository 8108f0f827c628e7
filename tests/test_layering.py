"""The architecture contracts: Qt only in gui, torch only in model/fusion (and lazily in cli)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "textdifuse_desktop"
QT_MODULES = {"PySide6", "pyqtgraph", "superqt", "shiboken6", "qtpy"}
TORCH_MODULES = {"torch", "torchvision", "open_clip"}


def _imports(path: Path, module_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else ast.walk(tree)
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules(subpackage: str) -> list[Path]:
    return sorted((PACKAGE / subpackage).rglob("*.py")) if subpackage else sorted(PACKAGE.glob("*.py"))


@pytest.mark.parametrize("sub", ["", "imaging", "io", "metrics", "model", "fusion", "session", "net", "cli"])
def test_no_qt_outside_gui(sub: str) -> None:
    offenders = [str(p) for p in _modules(sub) if _imports(p) & QT_MODULES]
    assert not offenders, f"Qt imported outside gui/: {offenders}"


@pytest.mark.parametrize("sub", ["", "imaging", "io", "metrics", "session", "net"])
def test_no_torch_in_core(sub: str) -> None:
    offenders = [str(p) for p in _modules(sub) if _imports(p) & TORCH_MODULES]
    assert not offenders, f"torch imported in the torch-free core: {offenders}"


def test_cli_imports_torch_only_lazily() -> None:
    offenders = [str(p) for p in _modules("cli") if _imports(p, module_level_only=True) & TORCH_MODULES]
    assert not offenders, f"torch imported at module level in cli/: {offenders}"


def test_core_import_does_not_load_torch_or_qt() -> None:
    code = (
        "import sys, textdifuse_desktop.io, textdifuse_desktop.imaging, textdifuse_desktop.metrics, "
        "textdifuse_desktop.session, textdifuse_desktop.net.service, textdifuse_desktop.cli.main as m; m.build_parser();"
        "bad = [n for n in ('torch', 'PySide6', 'pyqtgraph') if n in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("lint-imports") is None and not (Path(sys.executable).parent / "lint-imports").exists(),
                    reason="import-linter not installed")
def test_import_linter_contracts() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([exe, "--no-cache"], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
