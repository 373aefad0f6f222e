"""Make foreign text safe to show: :func:`redact` removes secrets before text reaches a log, a
comment, an error or a file, and the directories a server keeps to itself (registered with
:func:`hidden_paths`) before text reaches its clients; :func:`printable` removes the control characters that would
act on a terminal or disguise text in git metadata and on GitHub; :func:`visible` shows
them instead, for data a person reads on a terminal (a diff)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

# Shapes of well-known credentials. Generic enough to catch them inside URLs and headers.
_PATTERNS = [
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"),  # Anthropic keys
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),  # Slack
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"(?i)(authorization:\s*(?:bearer|token|basic)\s+)[^\s'\"]+"),
    re.compile(r"(?i)(x-api-key:\s*)[^\s'\"]+"),
    re.compile(r"(?i)(://[^/\s:@]*:)[^@\s/]+(@)"),  # user:password@ in URLs
]

# Environment variables whose values are secrets wherever they appear.
SECRET_ENV_NAMES = re.compile(r"(?i)(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|_KEY$|CREDENTIAL)")

MASK = "***"

# Directories of this process that text leaving it must not show, with what to show instead
# (a server's clone cache: its clients cannot open it, and it tells them about the host).
# Registered while a server runs; one entry per registration, longest path first.
_hidden: tuple[tuple[str, str], ...] = ()
_hidden_lock = threading.Lock()


def secret_values(env: dict[str, str] | None = None) -> list[str]:
    """Values of secret-looking environment variables (long enough to be worth masking)."""
    env = dict(os.environ) if env is None else env
    return sorted(
        {v for k, v in env.items() if SECRET_ENV_NAMES.search(k) and len(v) >= 8},
        key=len,
        reverse=True,
    )


def _path_texts(path: Path) -> set[str]:
    """How ``path`` may be spelt in a message: as given (when absolute), absolute, resolved."""
    texts = {str(path.absolute()), str(path.resolve())}
    if path.is_absolute():
        texts.add(str(path))
    return {t for t in texts if t != path.anchor}  # never the root itself


@contextmanager
def hidden_paths(paths: Mapping[Path, str]) -> Iterator[None]:
    """While open, :func:`redact` shows each path of ``paths`` (and anything under it) as
    its placeholder, e.g. ``{cache_dir: "<server cache>"}``. Registrations nest: two
    servers of one process may hide the same directory."""
    global _hidden
    entries = [(text, shown) for path, shown in paths.items() for text in _path_texts(path)]
    with _hidden_lock:
        _hidden = tuple(sorted((*_hidden, *entries), key=lambda e: len(e[0]), reverse=True))
    try:
        yield
    finally:
        with _hidden_lock:
            left = list(_hidden)
            for entry in entries:
                left.remove(entry)
            _hidden = tuple(left)


def redact(text: str, extra: list[str] | None = None) -> str:
    """Mask known secret shapes, secret environment values and ``extra`` values in ``text``,
    and show hidden paths (:func:`hidden_paths`) as their placeholders."""
    for path, shown in _hidden:
        text = text.replace(path, shown)
    for value in [*(extra or []), *secret_values()]:
        if value and len(value) >= 4:
            text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(
                lambda m: m.group(1) + MASK + (m.group(2) if m.lastindex == 2 else ""), text
            )
        else:
            text = pattern.sub(MASK, text)
    return text


# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI), and the bidi
# embeddings, overrides and isolates that reorder how text is shown ("Trojan Source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` without control characters: model output, a file's lines or a check's output
    carrying ``ESC ]0;...BEL`` would retitle a terminal (``git log``, a CI log), ``ESC [2J``
    clear it, a carriage return overwrite what came before. Newlines and tabs stay; CRLF
    becomes LF."""
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


def visible(text: str) -> str:
    """``text`` with each control character shown as an escape (``\\x1b``) instead of acting:
    for data shown on a terminal whose bytes matter (a diff). CRLF line ends stay."""

    def shown(match: re.Match[str]) -> str:
        c = match.group(0)
        if c == "\r" and text.startswith("\n", match.end()):
            return c
        return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"

    return _CONTROL.sub(shown, text)
