"""Parse loose diffs (pure, no I/O) into :class:`FilePatch` objects.

Accepted: prose and ``` fences around the diff; one or many files; ``diff --git`` headers
or bare ``---``/``+++``; ``a/``/``b/`` prefixes or none; ``@@`` headers with wrong, partial
or no numbers; blank context lines that lost their leading space; CRLF (a diff whose every
line ends in CRLF was carried through a CRLF channel, and that layer is undone first);
``\\ No newline at end of file``; new, deleted and renamed files; and aider-style
SEARCH/REPLACE blocks after a file path line.

Hunk extent: header counts are often wrong, so they are never trusted to end a hunk (a
truncated hunk could silently drop a change). A hunk runs until the next ``@@``, the next
file header, a fence, or a line that cannot belong to a hunk. ``--- x`` followed by
``+++ y`` is a file header only when a ``@@`` line follows it, so a removed line reading
``-- x`` stays a removed line.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection

from tinygen.errors import PatchParseError
from tinygen.patch.model import FilePatch, Hunk, Line, Op

_NUMS = re.compile(r"^@@+\s*(?:-(\d+)(?:,(\d+))?)?\s*(?:\+(\d+)(?:,(\d+))?)?\s*@@")
_EXT_HEADER = (
    "old mode ",
    "new mode ",
    "new file mode ",
    "deleted file mode ",
    "similarity index ",
    "dissimilarity index ",
    "rename from ",
    "rename to ",
    "copy from ",
    "copy to ",
    "index ",
)
_FENCE = ("```", "~~~")
_SR_START = re.compile(r"^<{5,9} ?SEARCH\s*$")
_SR_MID = re.compile(r"^={5,9}\s*$")
_SR_END = re.compile(r"^>{5,9} ?REPLACE\s*$")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def unquote_path(s: str) -> str:
    """Undo git's C-style quoting (``"a/caf\\303\\251"``); other text is returned as is."""
    if not (len(s) >= 2 and s[0] == '"' and s[-1] == '"'):
        return s
    body, out, i = s[1:-1], bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "01234567" and re.match(r"[0-7]{3}", body[i + 1 : i + 4]):
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
        out.extend(ch.encode("utf-8"))
        i += 1
    return out.decode("utf-8", "replace")


def _header_path(rest: str) -> str | None:
    """The path of a ``---``/``+++`` line: timestamps after a tab dropped, /dev/null -> None."""
    rest = rest.strip()
    if rest.startswith('"'):
        end = rest.find('"', 1)
        while end > 0 and rest[end - 1] == "\\":
            end = rest.find('"', end + 1)
        rest = rest[: end + 1] if end > 0 else rest
    else:
        rest = rest.split("\t", 1)[0].rstrip()
    path = unquote_path(rest)
    if path in ("/dev/null", "dev/null", "a/dev/null", "b/dev/null") or not path:
        return None
    return path


def _git_header_paths(rest: str) -> tuple[str | None, str | None]:
    rest = rest.strip()
    if rest.startswith('"'):
        m = re.match(r'^("(?:[^"\\]|\\.)*")\s+(.*)$', rest)
        if m:
            return unquote_path(m.group(1)), unquote_path(m.group(2).strip())
        return None, None
    # Unquoted names may contain spaces: prefer the split whose two halves name the same file.
    splits = [m.start() for m in re.finditer(" ", rest)]
    for i in splits:
        a, b = rest[:i], rest[i + 1 :]
        if (a[2:] == b[2:] and a[:2] == "a/" and b[:2] == "b/") or a == b:
            return a, b
    for i in splits:
        if rest[i + 1 :].startswith(("b/", '"')):
            return rest[:i], unquote_path(rest[i + 1 :])
    if " " in rest:
        a, b = rest.split(" ", 1)
        return a, b
    return rest, rest


def _bare(path: str) -> str:
    return path[2:] if path.startswith(("a/", "b/")) else path


def _names_agree(fp: FilePatch, old: str | None, new: str | None) -> bool:
    """Whether a ---/+++ pair names the files of the `diff --git` header before it (either
    side may say /dev/null; a name must match the header's, prefixes aside)."""

    def same(a: str | None, b: str | None) -> bool:
        return a is None or b is None or _bare(a) == _bare(b)

    return same(old, fp.old_path) and same(new, fp.new_path)


def check_diff_path(path: str, where: int) -> None:
    """Reject paths that leave the repository or enter .git/ (before any prefix stripping)."""
    p = path.replace("\\", "/")
    parts = [c for c in p.split("/") if c not in ("", ".")]
    if "\x00" in p or p.startswith("/") or re.match(r"^[A-Za-z]:", p) or ".." in parts:
        raise PatchParseError(
            f"line {where}: the path {path!r} leaves the repository",
            hint="use paths relative to the repository root, without '..'",
        )
    if any(c.lower() == ".git" for c in parts):
        raise PatchParseError(
            f"line {where}: the path {path!r} is inside .git/",
            hint="a diff may only change files of the working tree",
        )


# Files commonly named without an extension, recognised as a path before a SEARCH block.
BARE_NAMES = frozenset(
    {
        *("Makefile", "makefile", "GNUmakefile", "Dockerfile", "Containerfile", "Gemfile"),
        *("Rakefile", "Procfile", "Jenkinsfile", "Vagrantfile", "Brewfile", "Justfile"),
        *("justfile", "Pipfile", "Caddyfile", "Earthfile", "LICENSE", "COPYING", "README"),
        *("NOTICE", "AUTHORS", "CODEOWNERS", "VERSION"),
    }
)


def _looks_like_path(s: str, bare: frozenset[str] | set[str] = BARE_NAMES) -> str | None:
    """A file name on a line of its own before a SEARCH block (``foo.py``, `` `foo.py`: ``,
    ``Makefile``; other names without ``.`` or ``/`` only when ``bare`` lists them)."""
    s = s.strip().strip("`*").strip()
    for prefix in ("File:", "file:", "Path:", "path:", "#"):
        if s.startswith(prefix):
            s = s[len(prefix) :].strip().strip("`*").strip()
    s = s.rstrip(":").strip("`").strip()
    if not s or " " in s or s.startswith(_FENCE):
        return None
    if "." in s or "/" in s or s in BARE_NAMES or s in bare:
        return s
    return None


class _Parser:
    def __init__(self, text: str, known_paths: Collection[str] | None = None) -> None:
        # A diff whose every line ends in CRLF went through a CRLF channel: undo that layer
        # (a CRLF file's own CRs then survive as a second CR, as git writes them).
        if "\n" in text and text.count("\n") == text.count("\r\n"):
            text = text.replace("\r\n", "\n")
        self.raw = text.split("\n")
        if self.raw and self.raw[-1] == "":
            self.raw.pop()
        self.lines = [r[:-1] if r.endswith("\r") else r for r in self.raw]
        self.patches: list[FilePatch] = []
        self.current: FilePatch | None = None
        # SEARCH/REPLACE: the path named before the next block; the previous block's path,
        # reused only by a block that follows it directly (blank lines and fences between).
        self.sr_path: str | None = None
        self.sr_last: str | None = None
        self.sr_adjacent = False
        self.sr_blocks: dict[str, int] = {}
        self.bare = {p.rsplit("/", 1)[-1] for p in known_paths or ()} - {""}
        self.dashes_at = -1  # where a `diff --git` header's ---/+++ pair would start

    def _new_file(self, old: str | None, new: str | None, at: int, git: bool) -> FilePatch:
        for p in (old, new):
            if p is not None:
                check_diff_path(p, at + 1)
        fp = FilePatch(old, new, git_header=git, source_line=at + 1)
        self.patches.append(fp)
        self.current = fp
        return fp

    def _is_file_header(self, i: int) -> bool:
        lines = self.lines
        return (
            lines[i].startswith("--- ")
            and i + 1 < len(lines)
            and lines[i + 1].startswith("+++ ")
            and (i + 2 >= len(lines) or lines[i + 2].startswith("@@") or i + 2 == len(lines))
        )

    def parse(self) -> list[FilePatch]:
        lines, i, n = self.lines, 0, len(self.lines)
        while i < n:
            s = lines[i]
            if s.startswith("GIT binary patch") or (
                s.startswith("Binary files ") and "differ" in s
            ):
                raise PatchParseError(
                    f"line {i + 1}: binary patches are not supported",
                    hint="send text changes only; binary files must be changed by hand",
                )
            if s.startswith("diff --git "):
                i = self._git_header(i)
            elif s.startswith("--- ") and i + 1 < n and lines[i + 1].startswith("+++ "):
                old, new = _header_path(s[4:]), _header_path(lines[i + 1][4:])
                cur = self.current
                follows_header = cur is not None and self.dashes_at == i
                if follows_header and cur is not None and not _names_agree(cur, old, new):
                    renames = (
                        cur.old_path is not None
                        and cur.new_path is not None
                        and _bare(cur.old_path) != _bare(cur.new_path)
                    )
                    if cur.hunks or not renames:
                        raise PatchParseError(
                            f"line {i + 1}: '---'/'+++' name {old or '/dev/null'} and "
                            f"{new or '/dev/null'}, but the 'diff --git' line above names "
                            f"{cur.old_path or '/dev/null'} and {cur.new_path or '/dev/null'}",
                            hint="give each file's changes under its own header",
                        )
                    # A rename or copy header has no ---/+++ of its own: this pair starts
                    # the next file.
                    follows_header = False
                if follows_header and cur is not None:
                    # The ---/+++ pair of the `diff --git` header just read, naming the same
                    # files: authoritative (a model may write /dev/null and omit "new file").
                    for p in (old, new):
                        if p is not None:
                            check_diff_path(p, i + 1)
                    cur.old_path, cur.new_path = old, new
                else:
                    if old is None and new is None:
                        raise PatchParseError(f"line {i + 1}: both sides are /dev/null")
                    self._new_file(old, new, i, git=False)
                i += 2
            elif s.startswith("@@"):
                if self.current is None:
                    raise PatchParseError(
                        f"line {i + 1}: a hunk ({s.strip()}) comes before any file header",
                        hint="start each file's changes with '--- a/PATH' and '+++ b/PATH' lines",
                    )
                i = self._hunk(i)
            elif _SR_START.match(s):
                i = self._search_replace(i)
            else:
                cand = _looks_like_path(s, self.bare)
                if cand is not None:
                    self.sr_path = cand
                if s.strip() and not s.lstrip().startswith(_FENCE):
                    self.sr_adjacent = False
                i += 1
        if not self.patches:
            raise PatchParseError(
                "no diff found in the input"
                if any(x.strip() for x in lines)
                else "the diff is empty",
                hint="give a unified diff (---/+++ and @@ hunks) or SEARCH/REPLACE blocks",
            )
        for fp in self.patches:
            fp.eol_from_diff = any(ln.eol == "\r\n" for h in fp.hunks for ln in h.lines)
        if not any(
            fp.hunks
            or fp.old_path is None
            or fp.new_path is None
            or (fp.git_header and fp.old_path != fp.new_path)
            for fp in self.patches
        ):
            raise PatchParseError(
                "the diff has file headers but no hunks",
                hint="each changed file needs at least one @@ hunk with - and + lines",
            )
        return self.patches

    def _git_header(self, i: int) -> int:
        lines, n = self.lines, len(self.lines)
        old, new = _git_header_paths(lines[i][len("diff --git ") :])
        if old is None or new is None:
            raise PatchParseError(f"line {i + 1}: cannot read the paths of {lines[i]!r}")
        fp = self._new_file(old, new, i, git=True)
        j = i + 1
        while j < n and lines[j].startswith(_EXT_HEADER):
            s = lines[j]
            if s.startswith("new file mode "):
                fp.old_path = None
            elif s.startswith("deleted file mode "):
                fp.new_path = None
            elif s.startswith(("rename from ", "copy from ")):
                fp.old_path = unquote_path(s.split(" ", 2)[2])
                check_diff_path(fp.old_path, j + 1)
            elif s.startswith(("rename to ", "copy to ")):
                fp.new_path = unquote_path(s.split(" ", 2)[2])
                check_diff_path(fp.new_path, j + 1)
            j += 1
        self.dashes_at = j
        return j

    def _hunk(self, i: int) -> int:
        lines, raw, n = self.lines, self.raw, len(self.lines)
        header = lines[i]
        m = _NUMS.match(header)
        nums: list[int | None] = [None] * 4
        if m:
            nums = [int(g) if g is not None else None for g in m.groups()]
            # git omits a count of 1 ("@@ -5 +5 @@").
            if nums[0] is not None and nums[1] is None:
                nums[1] = 1
            if nums[2] is not None and nums[3] is None:
                nums[3] = 1
        body: list[Line] = []
        cut: int | None = None  # where the header's counts are met, at a blank line
        n_old = n_new = 0  # the body's counts so far
        j = i + 1
        while j < n:
            s = lines[j]
            if s.startswith(("@@", "diff --git ", *_FENCE)) or _SR_START.match(s):
                break
            if s.startswith("--- ") and self._is_file_header(j):
                break
            if s == "" and cut is None and (n_old, n_new) == (nums[1], nums[3]):
                cut = len(body)
            if s.startswith("\\"):
                if body and body[-1].eol:
                    last = body[-1]
                    text = last.text + ("\r" if last.eol == "\r\n" else "")
                    body[-1] = Line(last.op, text, "", last.optional)
                j += 1
                continue
            eol = "\r\n" if raw[j].endswith("\r") else "\n"
            if s == "":
                body.append(Line(" ", "", eol, optional=True))
            elif s[0] in " +-":
                op: Op = s[0]  # type: ignore[assignment]
                body.append(Line(op, s[1:], eol))
            else:
                break
            n_old += body[-1].old
            n_new += body[-1].new
            j += 1
        # Bare empty lines are optional only at the end of a hunk; inside they are context.
        k = len(body)
        while k > 0 and body[k - 1].optional:
            k -= 1
        body = [
            Line(ln.op, ln.text, ln.eol, False) if idx < k else ln for idx, ln in enumerate(body)
        ]
        if body and all(ln.optional for ln in body):
            body = []
        if body:
            assert self.current is not None
            hunk = Hunk(
                tuple(body),
                header.strip(),
                old_start=nums[0],
                old_len=nums[1],
                new_start=nums[2],
                new_len=nums[3],
                source_line=i + 1,
            )
            if cut is not None and cut < k and any(ln.op != " " for ln in body[:cut]):
                hunk = dataclasses.replace(
                    hunk, shorter=dataclasses.replace(hunk, lines=hunk.lines[:cut])
                )
            self.current.hunks.append(hunk)
        return j

    def _search_replace(self, i: int) -> int:
        lines, raw, n = self.lines, self.raw, len(self.lines)
        path = self.sr_path or (self.sr_last if self.sr_adjacent else None)
        if path is None:
            raise PatchParseError(
                f"line {i + 1}: a SEARCH/REPLACE block without a file path before it",
                hint="put the file's path on the line before each '<<<<<<< SEARCH'",
            )
        check_diff_path(path, i + 1)
        block: list[tuple[str, str]] = []
        dividers: list[int] = []
        j = i + 1
        while j < n and not _SR_END.match(lines[j]):
            if _SR_MID.match(lines[j]):
                dividers.append(len(block))
            block.append((lines[j], "\r\n" if raw[j].endswith("\r") else "\n"))
            j += 1
        if j >= n or not dividers:
            raise PatchParseError(
                f"line {i + 1}: unterminated SEARCH/REPLACE block",
                hint="each block needs '=======' and '>>>>>>> REPLACE' lines",
            )
        # Several '=======' lines (a setext or reST heading underline in the text): every
        # split is a reading; the one whose SEARCH text fits the file is used (apply.py).
        readings = [_sr_hunk(block[:d], block[d + 1 :], i) for d in dividers]
        hunk = readings[0]
        if len(readings) > 1:
            hunk = Hunk(hunk.lines, hunk.header, source_line=i + 1, alternatives=tuple(readings))
        # Each block is its own file section, applied in order: a later block may search
        # for text an earlier one wrote.
        done = self.sr_blocks.get(path, 0)
        self.sr_blocks[path] = done + 1
        cur = self._new_file(path, path, i, git=False)
        cur.first_hunk = done + 1
        if len(readings) == 1 and not hunk.old_lines:
            cur.old_path = None  # an empty SEARCH creates the file
        cur.hunks.append(hunk)
        self.sr_path, self.sr_last, self.sr_adjacent = None, path, True
        return j + 1


def _sr_hunk(search: list[tuple[str, str]], replace: list[tuple[str, str]], i: int) -> Hunk:
    # Shared leading and trailing lines become context: a smaller, clearer hunk.
    a = 0
    while a < min(len(search), len(replace)) and search[a][0] == replace[a][0]:
        a += 1
    b = 0
    while (
        b < min(len(search), len(replace)) - a
        and search[len(search) - 1 - b][0] == replace[len(replace) - 1 - b][0]
    ):
        b += 1
    body = (
        [Line(" ", t, e) for t, e in search[:a]]
        + [Line("-", t, e) for t, e in search[a : len(search) - b]]
        + [Line("+", t, e) for t, e in replace[a : len(replace) - b]]
        + [Line(" ", t, e) for t, e in search[len(search) - b :]]
    )
    return Hunk(tuple(body), "SEARCH/REPLACE", source_line=i + 1)


def parse_patch(text: str, *, known_paths: Collection[str] | None = None) -> list[FilePatch]:
    """Parse a loose diff; PatchParseError (with a hint) for input that is not one.

    ``known_paths`` (the repository's files) lets a SEARCH block's path line be a bare
    name without an extension, such as ``Taskfile``."""
    if not text.strip():
        raise PatchParseError("the diff is empty", hint="pass a unified diff on stdin or as a file")
    return _Parser(text, known_paths).parse()


__all__ = ["check_diff_path", "parse_patch", "unquote_path"]
