"""Validation: path policy, the gate (unidiff, git apply --check, syntax delta), checks."""

from tinygen.validate.checks import CheckResult, run_checks, run_checks_on_tree
from tinygen.validate.gate import GateReport, Problem, run_gate
from tinygen.validate.paths import PathPolicy, check_path

__all__ = [
    "CheckResult",
    "GateReport",
    "PathPolicy",
    "Problem",
    "check_path",
    "run_checks",
    "run_checks_on_tree",
    "run_gate",
]
