"""The LLM layer: a small provider interface, its Anthropic and OpenAI-compatible
implementations (``PROVIDER:MODEL`` names), structured answers through a forced tool or a
JSON mode, and usage/cost accounting.

Importing this package loads neither ``anthropic``, ``openai`` nor ``pydantic``; they are
imported when a call is made.
"""

from tinygen.llm.anthropic import STREAM_ABOVE_TOKENS, AnthropicProvider, default_model
from tinygen.llm.factory import make_provider, resolved_model, warm_up
from tinygen.llm.names import ModelName, split_model
from tinygen.llm.provider import (
    MAX_CACHE_BREAKPOINTS,
    STRUCTURED_MODES,
    Completion,
    CompletionRequest,
    ContentBlock,
    Message,
    Provider,
    StructuredMode,
    TextBlock,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
)
from tinygen.llm.structured import complete_structured, parse_json_object, schema_for, tool_for
from tinygen.llm.usage import PRICES, Price, Usage, cost_usd, load_prices

__all__ = [
    "MAX_CACHE_BREAKPOINTS",
    "PRICES",
    "STREAM_ABOVE_TOKENS",
    "STRUCTURED_MODES",
    "AnthropicProvider",
    "Completion",
    "CompletionRequest",
    "ContentBlock",
    "Message",
    "ModelName",
    "Price",
    "Provider",
    "StructuredMode",
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
    "parse_json_object",
    "resolved_model",
    "schema_for",
    "split_model",
    "tool_for",
    "warm_up",
]
