"""tinygen.delivery.patchfile.deliver_patch_file (`tinygen apply` with delivery options) as a
library call: real repositories with local bare remotes, a typed result the command only
prints, and the status wording shared with runs (models.validation_status)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import commit_all, git, write_files
from tinygen.delivery.options import DeliveryOptions
from tinygen.delivery.patchfile import deliver_patch_file
from tinygen.errors import ExitCode
from tinygen.models import Status

FILES = {"app.py": "def answer() -> int:\n    return 41\n"}
PATCH = (
    "--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n def answer() -> int:\n"
    "-    return 41\n+    return 42\n"
)


def _push() -> DeliveryOptions:
    return DeliveryOptions(branch="feature/answer", push=True).validate()


def test_a_patch_is_delivered_with_a_typed_result(pair: tuple[Path, Path]) -> None:
    repo, bare = pair
    out = deliver_patch_file(PATCH, str(repo / "fix.diff"), repo, _push(), ["true"])

    assert out.error is None and out.result is not None and out.delivered is not None
    assert (out.status, out.exit_code) == (Status.UNVERIFIED, ExitCode.OK)
    assert out.result.message == "applied from a diff; not reviewed"
    assert out.prepared.opened.root == repo.resolve()
    assert out.delivered.branch == "feature/answer" and out.delivered.pushed
    assert git(bare, "show", "feature/answer:app.py").endswith("return 42\n")
    # the file's name only reaches the commit, never the local path
    message = git(bare, "log", "-1", "--format=%B", "feature/answer")
    assert "fix.diff" in message and str(repo) not in message


def test_a_failed_check_is_worded_as_a_runs_and_the_change_still_delivered(
    pair: tuple[Path, Path],
) -> None:
    repo, bare = pair
    out = deliver_patch_file(PATCH, "-", repo, _push(), ["true", "false"])

    assert out.result is not None
    assert (out.status, out.exit_code) == (Status.CHECKS_FAILED, ExitCode.CHECKS_FAILED)
    assert out.result.message == "check(s) failed: false"  # the wording runs use
    assert "Tinygen-Status: checks_failed" in git(
        bare, "log", "-1", "--format=%B", "feature/answer"
    )


def test_an_invalid_patch_is_worded_as_a_runs_and_exits_5(pair: tuple[Path, Path]) -> None:
    repo, _bare = pair
    broken = PATCH.replace("+    return 42\n", "+    return (42\n")
    out = deliver_patch_file(broken, "-", repo, _push())

    assert out.result is not None
    assert (out.status, out.exit_code) == (Status.INVALID, ExitCode.PATCH)
    assert out.result.message.startswith("validation failed:\n  app.py: new syntax error")


def test_a_patch_already_present_delivers_nothing(pair: tuple[Path, Path]) -> None:
    repo, bare = pair
    write_files(repo, {"app.py": FILES["app.py"].replace("41", "42")})
    commit_all(repo, "already answered")

    out = deliver_patch_file(PATCH, "-", repo, _push())

    assert out.result is None and out.delivered is None and out.error is None
    assert (out.status, out.exit_code) == (Status.NO_CHANGE, ExitCode.OK)
    assert "feature/answer" not in git(bare, "branch", "--list")
