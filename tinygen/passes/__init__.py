"""The three LLM passes — brainstorm, edit (one call per file), verify — with their prompts
as text templates beside them."""
