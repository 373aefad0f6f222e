"""The LLM layer: a small provider interface, its Anthropic implementation, structured
answers through a forced tool, and usage/cost accounting.

Importing this package loads neither ``anthropic`` nor ``pydantic``; they are imported
when a call is made.
"""

from tinygen.llm.anthropic import STREAM_ABOVE_TOKENS, AnthropicProvider, default_model
from tinygen.llm.factory import make_provider, resolved_model
from tinygen.llm.provider import (
    MAX_CACHE_BREAKPOINTS,
    Completion,
    CompletionRequest,
    ContentBlock,
    Message,
    Provider,
    TextBlock,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
)
from tinygen.llm.structured import complete_structured, schema_for, tool_for
from tinygen.llm.usage import PRICES, Price, Usage, cost_usd, load_prices

__all__ = [
    "MAX_CACHE_BREAKPOINTS",
    "PRICES",
    "STREAM_ABOVE_TOKENS",
    "AnthropicProvider",
    "Completion",
    "CompletionRequest",
    "ContentBlock",
    "Message",
    "Price",
    "Provider",
    "TextBlock",
    "Tool",
    "ToolResultBlock",
    "ToolUseBlock",
    "Usage",
    "complete_structured",
    "cost_usd",
    "default_model",
    "load_prices",
    "make_provider",
    "resolved_model",
    "schema_for",
    "tool_for",
]
