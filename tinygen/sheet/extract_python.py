"""Python extraction: module docstring, imports, classes with methods, functions, constants.

Only module-level statements and class bodies are walked node by node (function bodies
are skipped: nested functions are not part of the sheet), which keeps the walk cheap.
Module-level imports come from that walk; imports inside functions (Django imports
lazily a lot) from a line pattern, which costs far less than a query over the tree.

Definitions inside module- or class-level compound statements (``if``/``try``/``with``/
``for``/``while``/``match``) count as module- or class-level, as they do for ``ast``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tinygen.sheet.extract_common import Extracted, Imp, SymbolTuple, one_line, string_doc

if TYPE_CHECKING:
    from tree_sitter import Node

# Compound statements whose blocks still belong to the enclosing scope, and their clauses.
_COMPOUND = frozenset(
    {
        "if_statement",
        "try_statement",
        "with_statement",
        "for_statement",
        "while_statement",
        "match_statement",
        "elif_clause",
        "else_clause",
        "except_clause",
        "except_group_clause",
        "finally_clause",
        "case_clause",
        "block",
        "ERROR",  # error recovery may wrap good statements; look inside rather than lose them
    }
)
_CONSTANT_NAME = re.compile(r"_*[A-Z][A-Z0-9_]*\Z")


def _text(src: bytes, node: Node) -> str:
    return src[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _import_of(src: bytes, node: Node) -> list[Imp]:
    """The imports of one import statement node."""
    if node.type == "import_statement":
        out: list[Imp] = []
        for child in node.children_by_field_name("name"):
            target = child.child_by_field_name("name") if child.type == "aliased_import" else child
            if target is not None:
                out.append((_text(src, target), ()))
        return out
    module = node.child_by_field_name("module_name")
    if module is None:
        return []
    names: list[str] = []
    for child in node.children_by_field_name("name"):
        target = child.child_by_field_name("name") if child.type == "aliased_import" else child
        if target is not None:
            names.append(_text(src, target))
    if any(c.type == "wildcard_import" for c in node.children):
        names.append("*")
    return [(_text(src, module).replace(" ", ""), tuple(names))]


# Imports inside function and class bodies (lazy imports), found by a line pattern rather
# than a tree query over the whole file: the query cost a third of the parse time.
# Approximate by design (a multi-line parenthesised name list yields the module only).
_INDENTED_IMPORT = re.compile(
    rb"^[ \t]+(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+([\w, \t]+)|import[ \t]+([\w., \t]+?))[ \t]*(?:#.*)?\r?$",
    re.MULTILINE,
)


# Where such a line may start: a literal-led search, several times cheaper than trying
# the full pattern at every line.
_INDENTED_START = re.compile(rb"\n[ \t]+(?:from|import)[ \t]")


def _indented_imports(src: bytes) -> list[Imp]:
    out: list[Imp] = []
    matches = (_INDENTED_IMPORT.match(src, s.start() + 1) for s in _INDENTED_START.finditer(src))
    for m in matches:
        if m is None:
            continue
        module, names, plain = m.groups()
        if plain is not None:
            for part in plain.decode("utf-8", "replace").split(","):
                words = part.split()
                if words:
                    out.append((words[0], ()))
        elif module:
            listed = [
                n.split()[0] for n in names.decode("utf-8", "replace").split(",") if n.strip()
            ]
            out.append((module.decode("utf-8", "replace"), tuple(listed)))
    return out


def _docstring(src: bytes, body: Node | None) -> str:
    """First line of the docstring of a module or block, '' when there is none."""
    if body is None:
        return ""
    # named_child(i) rather than named_children: no list of a whole class body per call.
    count = body.named_child_count
    i = 0
    while i < count:
        child = body.named_child(i)
        if child is None or child.type != "comment":
            break
        i += 1
    else:
        return ""
    if child is None or child.type != "expression_statement" or child.named_child_count != 1:
        return ""
    first = child.named_child(0)
    if first is not None and first.type in ("string", "concatenated_string"):
        return string_doc(_text(src, first))
    return ""


_QUOTES = "\"'"


def _without_comments(src: bytes, node: Node, end: int) -> bytes:
    """``src[node.start_byte:end]`` without the comments inside it (between parameters,
    after a base class...), each replaced by a space."""
    found: list[tuple[int, int]] = []
    stack = list(node.children)
    while stack:
        child = stack.pop()
        if child.start_byte >= end:
            continue
        if child.type == "comment":
            found.append((child.start_byte, child.end_byte))
        elif child.child_count:
            stack.extend(child.children)
    out: list[bytes] = []
    pos = node.start_byte
    for start, stop in sorted(found):
        out += [src[pos:start], b" "]
        pos = stop
    out.append(src[pos:end])
    return b"".join(out)


def _signature(src: bytes, node: Node, body: Node | None) -> str:
    """The header up to (not including) the ``:`` before the body, on one line, without
    comments: tree-sitter puts a comment that follows the ``:`` before the body node."""
    end = node.end_byte
    if body is not None:
        colon = body.prev_sibling
        while colon is not None and colon.type != ":":
            colon = colon.prev_sibling
        end = colon.start_byte if colon is not None else body.start_byte
    raw = src[node.start_byte : end]
    if b"#" in raw:
        raw = _without_comments(src, node, end)
    return one_line(raw.decode("utf-8", "replace"), _QUOTES).rstrip(":").rstrip()


class _Walker:
    def __init__(self, src: bytes) -> None:
        self.src = src
        self.symbols: list[SymbolTuple] = []
        self.imports: list[Imp] = []

    def statements(self, parent: Node, owner: str) -> None:
        """Definitions among ``parent``'s statements; ``owner`` is the class path or ''."""
        for node in parent.named_children:
            kind = node.type
            if kind == "function_definition" or kind == "class_definition":
                self.definition(node, node, (), owner)
            elif kind == "decorated_definition":
                inner = node.child_by_field_name("definition")
                if inner is not None:
                    decorators = tuple(
                        one_line(_text(self.src, d), _QUOTES)
                        for d in node.named_children
                        if d.type == "decorator"
                    )
                    self.definition(inner, node, decorators, owner)
            elif kind in _COMPOUND:
                self.statements(node, owner)
            elif kind in ("import_statement", "import_from_statement"):
                if not owner:
                    self.imports.extend(_import_of(self.src, node))
            elif kind == "expression_statement" and not owner:
                self.constant(node)

    def definition(self, node: Node, outer: Node, decorators: tuple[str, ...], owner: str) -> None:
        name_node = node.child_by_field_name("name")
        if name_node is None:
            return
        name = _text(self.src, name_node)
        body = node.child_by_field_name("body")
        line = node.start_point.row + 1
        end_line = outer.end_point.row + 1
        doc = _docstring(self.src, body)
        sig = _signature(self.src, node, body)
        if node.type == "class_definition":
            self.symbols.append((name, "class", line, end_line, sig, owner, doc, decorators))
            if body is not None:
                self.statements(body, f"{owner}.{name}" if owner else name)
        else:
            kind = "method" if owner else "function"
            self.symbols.append((name, kind, line, end_line, sig, owner, doc, decorators))

    def constant(self, node: Node) -> None:
        if node.named_child_count != 1:
            return
        assign = node.named_children[0]
        if assign.type != "assignment":
            return
        left = assign.child_by_field_name("left")
        if left is None or left.type != "identifier":
            return
        name = _text(self.src, left)
        if not _CONSTANT_NAME.match(name):
            return
        sig = one_line(_text(self.src, assign), _QUOTES)
        if len(sig) > 100:
            sig = sig[:97] + "..."
        line = node.start_point.row + 1
        self.symbols.append((name, "constant", line, node.end_point.row + 1, sig, "", "", ()))


def extract_python(src: bytes, root: Node) -> Extracted:
    walker = _Walker(src)
    walker.statements(root, "")
    flags = ("syntax-error",) if root.has_error else ()
    imports = tuple(dict.fromkeys(walker.imports + _indented_imports(src)))
    return Extracted(_docstring(src, root), imports, tuple(walker.symbols), flags)


def extract_python_ast(src: bytes) -> Extracted | None:
    """The same extraction with Python's own parser, for files tree-sitter misparses.

    tree-sitter's Python grammar recovers from some valid code badly (for example a
    continuation line dedented inside brackets) and can then lose whole classes. When its
    tree has an error but the running Python parses the file, this result is used instead.
    None when ``ast`` cannot parse it either.
    """
    import ast
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. in the user's code
            tree = ast.parse(src)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    symbols: list[SymbolTuple] = []

    def doc_of(node: ast.AST) -> str:
        try:
            doc = ast.get_docstring(node, clean=False)  # type: ignore[arg-type]
        except TypeError:
            return ""
        return string_doc(f'"""{doc}"""') if doc else ""

    def header(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b) for b in node.bases]
            bases += [ast.unparse(k) for k in node.keywords]
            return f"class {node.name}({', '.join(bases)})" if bases else f"class {node.name}"
        prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
        ret = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
        return f"{prefix} {node.name}({ast.unparse(node.args)}){ret}"

    def walk(stmts: list[ast.stmt], owner: str) -> None:
        for node in stmts:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                decorators = tuple("@" + ast.unparse(d) for d in node.decorator_list)
                end = node.end_lineno or node.lineno
                is_class = isinstance(node, ast.ClassDef)
                kind = "class" if is_class else ("method" if owner else "function")
                symbols.append(
                    (
                        node.name,
                        kind,
                        node.lineno,
                        end,
                        header(node),
                        owner,
                        doc_of(node),
                        decorators,
                    )
                )
                if is_class:
                    walk(node.body, f"{owner}.{node.name}" if owner else node.name)
                continue
            if (
                not owner
                and isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and _CONSTANT_NAME.match(node.targets[0].id)
            ):
                sig = one_line(ast.unparse(node), _QUOTES)
                sig = sig[:97] + "..." if len(sig) > 100 else sig
                symbols.append(
                    (
                        node.targets[0].id,
                        "constant",
                        node.lineno,
                        node.end_lineno or node.lineno,
                        sig,
                        "",
                        "",
                        (),
                    )
                )
            for name in ("body", "orelse", "finalbody", "handlers", "cases"):
                sub = getattr(node, name, None)
                if sub:
                    walk(sub, owner)

    walk(tree.body, "")
    # ExceptHandler / match_case are not statements but carry a body: walk() reaches them
    # through "handlers"/"cases" and then their "body".
    found: list[tuple[int, int, Imp]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, node.col_offset, (a.name, ())) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.append(
                (node.lineno, node.col_offset, (module, tuple(a.name for a in node.names)))
            )
    found.sort(key=lambda f: (f[0], f[1]))  # ast.walk is breadth-first: back to source order
    imports = [imp for _, _, imp in found]
    return Extracted(doc_of(tree), tuple(dict.fromkeys(imports)), tuple(symbols), ("ast-fallback",))
