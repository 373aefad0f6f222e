"""The documentation stays true: the CLI reference matches `--help`, links resolve, and the
files the pages name exist."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "docs" / "gen_cli_reference.py"
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
# A file or folder of this repository named in inline code: `tinygen/repo/git.py`, `bench/`.
NAMED_PATH = re.compile(r"`((?:tinygen|tests|bench|docs|\.ci|\.github)/[\w./-]*?(?:\.\w+|/))`")
# A module, or a name defined in one, named in inline code: `tinygen.server.jobs.JobStore`.
NAMED_OBJECT = re.compile(r"`(tinygen(?:\.\w+)+)`")


def prose(text: str) -> str:
    """The text without fenced code blocks (links and headings there are not real)."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed,
    spaces turned into dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    kept = "".join(
        c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN"
    )  # letters, numbers
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(prose(page.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")  # GitHub numbers repeats
    return result


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """Relative links of page whose file or heading does not exist, named from root."""
    problems = []
    for target in LINK.findall(INLINE_CODE.sub("", prose(page.read_text(encoding="utf-8")))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ... not ours to check
            continue
        path_part, _, fragment = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            problems.append(f"{target}: no file {linked.relative_to(root)}")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            problems.append(f"{target}: no heading #{fragment} in {linked.relative_to(root)}")
    return problems


def missing_object(dotted: str, root: Path = ROOT) -> str | None:
    """What of `package.module.name` does not exist: the longest prefix that is a module of
    the repository, then a top-level definition of the next name in its source."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        base = root.joinpath(*parts[:end])
        source = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if source.is_file():
            break
    else:
        return dotted
    if end == len(parts):
        return None
    name = parts[end]
    defined = re.compile(rf"^(?:(?:async )?def |class ){name}\b|^{name}\s*[:=]", re.MULTILINE)
    return None if defined.search(source.read_text(encoding="utf-8")) else dotted


def test_cli_reference_matches_help() -> None:
    # A fresh interpreter: the generator pins the environment before importing tinygen.
    proc = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0, (
        "docs/cli-reference.md differs from the commands' --help; regenerate it with "
        f"`python docs/gen_cli_reference.py`.\n{proc.stderr}"
    )


def test_cli_reference_covers_every_command() -> None:
    from tinygen.cli import COMMANDS

    reference = (ROOT / "docs" / "cli-reference.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"\n## tinygen {name}\n" in reference, name


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_named_repository_paths_exist(page: Path) -> None:
    text = prose(page.read_text(encoding="utf-8"))
    named = set(NAMED_PATH.findall(text))
    assert sorted(p for p in named if not (ROOT / p).exists()) == []
    objects = {missing_object(dotted) for dotted in NAMED_OBJECT.findall(text)}
    assert sorted(o for o in objects if o is not None) == []


def test_the_name_check_can_fail() -> None:
    assert missing_object("tinygen.errors.ExitCode") is None
    assert missing_object("tinygen.errors") is None
    assert missing_object("tinygen.errors.NoSuchName") == "tinygen.errors.NoSuchName"
    assert missing_object("tinygen.no_such_module.f") == "tinygen.no_such_module.f"


def test_the_link_check_can_fail(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Exit codes\n\n## `tinygen run` — the main job\n")
    page = docs / "b.md"
    page.write_text(
        "[ok](a.md#exit-codes) [ok](a.md#tinygen-run--the-main-job) [web](https://x.org/y)\n"
        "[missing](c.md) [bad anchor](a.md#exit) `[code](d.md)`\n"
        "```\n[fenced](e.md)\n```\n"
    )
    assert broken_links(page, tmp_path) == [
        "c.md: no file docs/c.md",
        "a.md#exit: no heading #exit in docs/a.md",
    ]


def test_configuration_lists_every_setting() -> None:
    from tinygen.config import Settings

    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z-]+)` \|", page, re.MULTILINE))
    fields = {f.name.replace("_", "-") for f in dataclasses.fields(Settings)}
    assert sorted(fields - listed) == [], "add a row to the settings table of docs/configuration.md"
    assert sorted(listed - fields) == [], "a row of docs/configuration.md names no setting"


def test_readme_keeps_the_two_commands_and_stays_short() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b.strip() for b in re.findall(r"^```sh\n(.*?)^```", readme, re.M | re.S)]
    assert "python -m pytest -q" in blocks  # .ci/run runs exactly this
    assert "source .venv/bin/activate" in blocks
    assert any(b.startswith("python3 -m venv .venv && ") and "/tinygen run " in b for b in blocks)
    assert len(readme.encode()) <= 10 * 1024
