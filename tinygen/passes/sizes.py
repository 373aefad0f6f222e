"""The sizes of what the passes send, measured on a run's real texts, for the cost estimate
(``tinygen.estimate``): the cached prefix (tool schemas, system prompt, sheet, request)
and the fixed text of each pass's own prompt."""

from __future__ import annotations

import json

from tinygen.estimate import PromptSizes
from tinygen.passes.common import RunContext, all_tools, template

_INSTRUCTIONS = 900  # the brainstorm's lookup instructions, filled into its template
_FILE_FRAME = 40  # the <file path="..."> frame around a file's text


def prompt_sizes(ctx: RunContext, named: list[str]) -> PromptSizes:
    """Characters of each part, with the files ``named`` by the request shown in full to
    the brainstorm pass (as it shows them)."""
    tools = sum(
        len(t.name) + len(t.description) + len(json.dumps(t.input_schema)) for t in all_tools()
    )
    system = sum(len(block.text) for block in ctx.system_blocks())
    shown = sum(len(text) + _FILE_FRAME for p in named if (text := ctx.read(p)) is not None)
    return PromptSizes(
        prefix=tools + system,
        brainstorm=len(template("brainstorm").template) + _INSTRUCTIONS + shown,
        edit=len(template("edit").template) + len(template("edit_modify").template),
        verify=len(template("verify").template) + 300,  # and the validation report
        plan=len(template("plan_block").template),
    )


__all__ = ["prompt_sizes"]
