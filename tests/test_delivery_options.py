"""Which delivery options go together: the library's rules (DeliveryOptions.validate), as a
table, and how the command line words a refusal (flags) — the same rules every front end
uses."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tinygen.commands.flags import options_text
from tinygen.delivery.options import DeliveryOptions
from tinygen.errors import ExitCode, OptionsError

ACCEPTED = [
    DeliveryOptions(),
    DeliveryOptions(apply=True),
    DeliveryOptions(apply=True, force=True),
    DeliveryOptions(apply=True, branch=""),
    DeliveryOptions(branch="fix"),
    DeliveryOptions(push=True),  # implies a branch
    DeliveryOptions(branch="", push=True),
    DeliveryOptions(pr=True),  # implies a branch and a push
    DeliveryOptions(pr=True, push=True, branch="fix", base="dev", ready=True, issue=3),
    DeliveryOptions(to_pr=5),
    DeliveryOptions(to_pr=5, apply=True),
    DeliveryOptions(push=True, wait_checks=60),
    DeliveryOptions(pr=True, wait_checks=60, fix_checks=2),
    DeliveryOptions(to_pr=5, wait_checks=60, fix_checks=1),
    # the Action's two policies
    DeliveryOptions(pr=True, issue=7, follow_up=True),
    DeliveryOptions(pr=True, follow_up=True),  # a dispatch: no issue, nothing to follow
    DeliveryOptions(to_pr=5, attempt_branch=True, wait_checks=30),
]


@pytest.mark.parametrize("opts", ACCEPTED, ids=repr)
def test_combinations_that_go_together(opts: DeliveryOptions) -> None:
    assert opts.validate() is opts


# options, then: the option refused, what it needs (one of), what it conflicts with, the
# library's message, the command line's
REFUSED = [
    (
        DeliveryOptions(force=True),
        ("force", ("apply",), ()),
        "`force` goes with `apply`",
        "--force goes with --apply",
    ),
    (
        DeliveryOptions(to_pr=5, pr=True),
        ("to_pr", (), ("pr",)),
        "`to_pr` cannot be combined with `pr`: it pushes to the pull request's branch",
        "--to-pr pushes to the pull request's branch: drop --pr",
    ),
    (
        DeliveryOptions(to_pr=5, branch="", push=True),
        ("to_pr", (), ("branch", "push")),
        "`to_pr` cannot be combined with `branch` or `push`: it pushes to the pull "
        "request's branch",
        "--to-pr pushes to the pull request's branch: drop --branch/--push",
    ),
    (
        DeliveryOptions(to_pr=5, base="dev"),
        ("base", ("pr",), ()),
        "`base` goes with `pr`",
        "--base goes with --pr",
    ),
    (
        DeliveryOptions(branch="x", ready=True),
        ("ready", ("pr",), ()),
        "`ready` goes with `pr`",
        "--ready goes with --pr",
    ),
    (
        DeliveryOptions(push=True, issue=4),
        ("issue", ("pr",), ()),
        "`issue` goes with `pr`",
        "--issue goes with --pr",
    ),
    (
        DeliveryOptions(branch="x", wait_checks=60),
        ("wait_checks", ("push", "pr", "to_pr"), ()),
        "`wait_checks` goes with `push`, `pr` or `to_pr`",
        "--wait-checks goes with --push, --pr or --to-pr",
    ),
    (
        DeliveryOptions(pr=True, fix_checks=2),
        ("fix_checks", ("wait_checks",), ()),
        "`fix_checks` goes with `wait_checks`",
        "--fix-checks goes with --wait-checks",
    ),
    (
        DeliveryOptions(push=True, wait_checks=60, fix_checks=2),
        ("fix_checks", ("pr", "to_pr"), ()),
        "`fix_checks` goes with `pr` or `to_pr`",
        "--fix-checks goes with --pr or --to-pr",
    ),
    (
        DeliveryOptions(push=True, follow_up=True),
        ("follow_up", ("pr",), ()),
        "`follow_up` goes with `pr`",
        "`follow_up` goes with --pr",  # an Action policy: no flag of its own
    ),
    (
        DeliveryOptions(pr=True, attempt_branch=True),
        ("attempt_branch", ("to_pr",), ()),
        "`attempt_branch` goes with `to_pr`",
        "`attempt_branch` goes with --to-pr",
    ),
]


@pytest.mark.parametrize(("opts", "fields", "message", "cli"), REFUSED, ids=lambda x: repr(x))
def test_combinations_refused(
    opts: DeliveryOptions,
    fields: tuple[str, tuple[str, ...], tuple[str, ...]],
    message: str,
    cli: str,
) -> None:
    with pytest.raises(OptionsError) as info:
        opts.validate()
    exc = info.value
    assert (exc.option, exc.needs, exc.conflicts) == fields
    assert exc.message == message
    assert exc.settings == (exc.option, *exc.needs, *exc.conflicts)
    assert exc.exit_code == ExitCode.USAGE
    assert "--" not in exc.message  # library text names settings, never flags
    assert options_text(exc) == cli


def test_a_pull_requests_head_is_its_own_starting_point() -> None:
    with pytest.raises(OptionsError) as info:
        DeliveryOptions(to_pr=5).validate(explicit_ref=True)
    exc = info.value
    assert (exc.option, exc.conflicts) == ("to_pr", ("ref",))
    assert exc.message == (
        "`to_pr` cannot be combined with `ref`: it makes the change on the pull request's head"
    )
    assert options_text(exc) == "--to-pr makes the change on the pull request's head: drop --ref"
    # with other conflicts too, every one is named
    with pytest.raises(OptionsError) as info:
        DeliveryOptions(to_pr=5, pr=True).validate(explicit_ref=True)
    assert info.value.conflicts == ("pr", "ref")
    # an explicit ref is fine for everything else
    for opts in ACCEPTED:
        if opts.to_pr is None:
            assert opts.validate(explicit_ref=True) is opts


def test_the_first_rule_broken_is_the_one_named() -> None:
    # force without apply is named before the to_pr conflict and the --pr-only options
    opts = DeliveryOptions(force=True, to_pr=5, pr=True, ready=True)
    with pytest.raises(OptionsError, match="`force` goes with `apply`"):
        opts.validate()
    with pytest.raises(OptionsError, match="`to_pr` cannot be combined with `pr`"):
        replace(opts, force=False).validate()
