"""open_repository: local checkouts in place, remotes through the clone cache (real git)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import commit_all, git, status, write_files
from tinygen.errors import RepoError
from tinygen.repo.clone import cache_path, open_repository
from tinygen.repo.git import temp_worktree
from tinygen.repo.spec import parse_repo_spec


@dataclass
class Upstream:
    work: Path  # a checkout whose origin is `bare`; commit + push here to move the remote
    bare: Path
    first: str  # main's first commit (tag v1, annotated)
    main: str
    feature: str


@pytest.fixture
def upstream(
    make_repo: Callable[..., Path], bare_remote: Callable[[Path], Path], tmp_path: Path
) -> Upstream:
    work = make_repo({"app.py": "print('v1')\n", "README.md": "hi\n"}, name="proj")
    first = git(work, "rev-parse", "HEAD").strip()
    git(work, "tag", "-a", "v1", "-m", "release 1")
    write_files(work, {"app.py": "print('v2')\n"})
    main = commit_all(work, "v2")
    git(work, "switch", "-q", "-c", "feature")
    write_files(work, {"feature.py": "x = 1\n"})
    feature = commit_all(work, "feature")
    git(work, "switch", "-q", "main")
    bare = bare_remote(work)
    return Upstream(work, bare, first, main, feature)


def _cache() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "tinygen" / "repos"


def test_local_checkout_is_used_in_place(upstream: Upstream) -> None:
    before = (status(upstream.work), git(upstream.work, "branch", "-a"))
    opened = open_repository(str(upstream.work))
    assert opened.root == upstream.work.resolve()
    assert opened.base_commit == upstream.main
    assert not opened.is_clone
    assert opened.remote_url == str(upstream.bare)
    assert open_repository(str(upstream.work), ref="v1").base_commit == upstream.first
    assert open_repository(str(upstream.work), ref="feature").base_commit == upstream.feature
    assert (status(upstream.work), git(upstream.work, "branch", "-a")) == before
    assert not _cache().exists()  # nothing cloned


def test_file_url_clone_then_reuse_and_fetch(upstream: Upstream) -> None:
    url = f"file://{upstream.bare}"
    opened = open_repository(url)
    assert opened.is_clone
    assert opened.root == cache_path(parse_repo_spec(url), _cache())
    assert opened.root.is_relative_to(_cache())
    assert (opened.base_commit, opened.default_branch) == (upstream.main, "main")
    assert opened.base_ref == "refs/heads/main"
    assert git(opened.root, "rev-parse", "--is-shallow-repository").strip() == "true"
    # A worktree of the base has every file (no lazy blob fetches needed later).
    with temp_worktree(opened.root, opened.base_commit) as wt:
        assert (wt / "app.py").read_text() == "print('v2')\n"
    marker = opened.root / "tinygen-test-marker"
    marker.write_text("kept")

    write_files(upstream.work, {"app.py": "print('v3')\n"})
    newer = commit_all(upstream.work, "v3")
    git(upstream.work, "push", "-q", "origin", "main")
    again = open_repository(url)
    assert again.root == opened.root and marker.read_text() == "kept"  # reused, not recloned
    assert again.base_commit == newer  # ... and fetched
    assert sorted(p.name for p in opened.root.parent.iterdir()) == [
        "proj-remote.git",
        "proj-remote.git.lock",
    ]


@pytest.mark.parametrize("how", ["path", "file"])
def test_refs_branch_tag_sha(upstream: Upstream, how: str) -> None:
    text = str(upstream.bare) if how == "path" else f"file://{upstream.bare}"
    assert open_repository(text, ref="feature").base_commit == upstream.feature
    tagged = open_repository(text, ref="v1")
    assert (tagged.base_commit, tagged.base_ref) == (upstream.first, "refs/tags/v1")
    assert open_repository(text, ref=upstream.first).base_commit == upstream.first
    assert open_repository(text, ref="refs/heads/feature").base_commit == upstream.feature
    assert open_repository(text).spec.kind == ("bare" if how == "path" else "file")


def test_known_sha_offline_same_entry(upstream: Upstream, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    spec = parse_repo_spec(f"file://{upstream.bare}")
    first = open_repository(spec, ref="v1", cache_dir=cache)
    shutil.rmtree(upstream.bare)
    offline = open_repository(spec, ref=upstream.first, cache_dir=cache)
    assert (offline.root, offline.base_commit) == (first.root, upstream.first)
    assert offline.default_branch == "main"  # remembered from the first fetch
    with pytest.raises(RepoError, match="could not list the refs"):
        open_repository(spec, cache_dir=cache)  # a branch needs the remote


def test_bad_refs(upstream: Upstream) -> None:
    url = f"file://{upstream.bare}"
    with pytest.raises(RepoError, match="has no branch or tag 'nope'") as info:
        open_repository(url, ref="nope")
    assert info.value.hint and "branch or tag" in info.value.hint
    with pytest.raises(RepoError) as short:
        open_repository(url, ref=upstream.first[:10])
    assert short.value.hint and "full 40-character sha" in short.value.hint
    for bad in ("-x", "--upload-pack=touch /tmp/x", "a b", "a:b"):
        with pytest.raises(RepoError, match="is not a valid ref"):
            open_repository(url, ref=bad)
    with pytest.raises(RepoError, match="is not a commit"):
        open_repository(str(upstream.work), ref="nope")


def test_empty_remote_has_no_default_branch(tmp_path: Path) -> None:
    bare = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    with pytest.raises(RepoError, match="has no default branch") as info:
        open_repository(str(bare))
    assert info.value.hint and "`ref`" in info.value.hint and "ref" in info.value.settings


def test_unreachable_https_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match=r"could not list the refs of https://127\.0\.0\.1:9/o/r"):
        open_repository("https://127.0.0.1:9/o/r", cache_dir=tmp_path)


def test_two_threads_open_the_same_url(upstream: Upstream, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    results: list[object] = []

    def job(ref: str | None) -> None:
        try:
            results.append(open_repository(f"file://{upstream.bare}", ref=ref, cache_dir=cache))
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=job, args=(r,)) for r in (None, "feature", None, "v1")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors
    roots = {r.root for r in results}  # type: ignore[attr-defined]
    bases = sorted(r.base_commit for r in results)  # type: ignore[attr-defined]
    assert len(roots) == 1
    assert bases == sorted([upstream.main, upstream.feature, upstream.main, upstream.first])
    root = roots.pop()
    leftovers = sorted(p.name for p in root.parent.iterdir())
    assert leftovers == ["proj-remote.git", "proj-remote.git.lock"]  # no half-made clones
    git(root, "fsck", "--connectivity-only")  # raises if the shared clone is broken
    assert git(root, "cat-file", "-t", upstream.feature).strip() == "commit"
