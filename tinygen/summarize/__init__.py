"""Hierarchical summaries (``tinygen summarize``): a short summary per source file, then
per folder from its children's, then one overview of the repository, each cached by
content (:mod:`tinygen.sheet.summary_store`) so that only what changed is paid for again.

``make_plan`` says what is needed and cached, ``estimate`` what the rest will cost,
``build_summaries`` makes it, ``render_guide`` writes the Markdown guide.
"""

from tinygen.summarize.build import Report, build_summaries
from tinygen.summarize.guide import render_guide
from tinygen.summarize.plan import Estimate, Plan, estimate, make_plan
from tinygen.summarize.prompts import PROMPT_VERSION

__all__ = [
    "PROMPT_VERSION",
    "Estimate",
    "Plan",
    "Report",
    "build_summaries",
    "estimate",
    "make_plan",
    "render_guide",
]
