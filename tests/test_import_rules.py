"""The import rules (.importlinter, checked by `lint-imports` in CI) name their modules one
by one; a new top-level module must be added to them, or it would go unchecked."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The modules a contract may leave out of its list, and why.
EXEMPT = {
    "patch-pure": {"tinygen.patch", "tinygen.errors"},  # itself, and the one it may import
    "only-the-orchestrator-runs-passes": {"tinygen.pipeline", "tinygen.passes"},
    "click-only-in-the-cli": {"tinygen.cli", "tinygen.commands"},
}
NOT_MODULES = {"tinygen.__init__", "tinygen.__main__", "tinygen.py"}


def top_level_modules() -> set[str]:
    names = set()
    for path in (ROOT / "tinygen").iterdir():
        if path.name.startswith(("_", ".")) or path.name == "py.typed":
            continue
        if path.is_dir() and (path / "__init__.py").is_file():
            names.add(f"tinygen.{path.name}")
        elif path.suffix == ".py":
            names.add(f"tinygen.{path.stem}")
    return names - NOT_MODULES


def test_every_module_is_under_the_import_rules() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    modules = top_level_modules()
    assert {"tinygen.pipeline", "tinygen.delivery", "tinygen.patch"} <= modules
    for contract, exempt in EXEMPT.items():
        section = config[f"importlinter:contract:{contract}"]
        key = "forbidden_modules" if contract == "patch-pure" else "source_modules"
        listed = set(section[key].split())
        missing = modules - listed - exempt
        assert not missing, f"{contract} does not name {sorted(missing)} (.importlinter)"
