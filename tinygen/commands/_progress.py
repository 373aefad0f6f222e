"""Progress on stderr: one live line on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from tinygen.redact import printable, redact


class ProgressPrinter:
    """Callable as ``progress(stage, message)``; thread-safe (per-file passes report at once)."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        # its own \r and ESC[K go to the terminal itself: the line's text is made printable
        # here, and the filtered stderr (see _terminal) would take those two out
        self.stream = getattr(stream or sys.stderr, "unfiltered", stream or sys.stderr)
        self.quiet = quiet
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._dirty = False

    def __call__(self, stage: str, message: str) -> None:
        if self.quiet:
            return
        elapsed = time.monotonic() - self.started
        line = printable(redact(f"[{elapsed:5.1f}s] {stage}: {message}"))
        with self._lock:
            if self.live:
                width = 120
                self.stream.write("\r\033[K" + line[:width])
                self._dirty = True
            else:
                self.stream.write(f"tinygen: {line}\n")
            self.stream.flush()

    def done(self) -> None:
        with self._lock:
            if self.live and self._dirty:
                self.stream.write("\r\033[K")
                self.stream.flush()
                self._dirty = False
