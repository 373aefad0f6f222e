"""Core engine: runs things.

More text.
"""
from __future__ import annotations

import os
from . import helpers
from .sub.leaf import leaf_value
from pkg.sub import leaf

MAX_SIZE: int = 10
DEFAULT_NAME = "engine"


@dataclass
class Engine(Base, metaclass=Meta):
    """An engine."""

    kind = "x"

    def __init__(self, name: str = DEFAULT_NAME, *, size: int = MAX_SIZE) -> None:
        self.name = name

    @property
    def label(self) -> str:
        """The label."""
        return self.name

    async def run(
        self,
        steps: list[int],
        **options: object,
    ) -> dict[str, int]:
        def inner():
            return 1

        return {}

    class Config:
        def validate(self): ...


def make_engine(name="e") -> Engine:
    return Engine(name)


if os.name == "nt":
    def platform_path(p): return p
else:
    def platform_path(p):
        return p.replace("\\", "/")
