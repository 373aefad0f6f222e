"""Definitions and imports for JavaScript, TypeScript/TSX, Go and Rust.

Each walker visits top-level declarations (through ``export``/ambient/namespace wrappers)
and the bodies of classes, interfaces, traits and impls; function bodies are not entered.
A symbol's ``doc`` is the first line of the comment directly above it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from tinygen.sheet.extract_common import Extracted, Imp, SymbolTuple, comment_doc, one_line
from tinygen.sheet.languages import get_language

if TYPE_CHECKING:
    from tree_sitter import Node, Query

_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})


def _text(src: bytes, node: Node) -> str:
    return src[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _header(src: bytes, node: Node, body: Node | None, quotes: str) -> str:
    end = body.start_byte if body is not None else node.end_byte
    sig = one_line(src[node.start_byte : end].decode("utf-8", "replace"), quotes)
    sig = sig.rstrip("{").rstrip().rstrip(";").rstrip()
    return sig[:197] + "..." if len(sig) > 200 else sig


def _doc_above(src: bytes, node: Node) -> str:
    prev = node.prev_sibling
    if prev is None or prev.type not in _COMMENTS:
        return ""
    if prev.end_point.row + 1 < node.start_point.row:
        return ""
    # Walk up a run of line comments to the first one of the block.
    first = prev
    while (
        first.prev_sibling is not None
        and first.prev_sibling.type in _COMMENTS
        and first.prev_sibling.end_point.row + 1 == first.start_point.row
    ):
        first = first.prev_sibling
    return comment_doc(_text(src, first))


def _file_doc(src: bytes, root: Node) -> str:
    first = root.children[0] if root.child_count else None
    if first is not None and first.type in _COMMENTS:
        return comment_doc(_text(src, first))
    return ""


class _Out:
    def __init__(self, src: bytes, quotes: str) -> None:
        self.src = src
        self.quotes = quotes  # string delimiters of the language (Rust's ' is a lifetime)
        self.symbols: list[SymbolTuple] = []

    def add(
        self, node: Node, name_node: Node | None, kind: str, owner: str, body: Node | None
    ) -> str:
        if name_node is None:
            return ""
        name = _text(self.src, name_node)
        sym: SymbolTuple = (
            name,
            kind,
            node.start_point.row + 1,
            node.end_point.row + 1,
            _header(self.src, node, body, self.quotes),
            owner,
            _doc_above(self.src, node),
            (),
        )
        self.symbols.append(sym)
        return name


# ---------------------------------------------------------------- JavaScript / TypeScript

_JS_FUNCS = frozenset(
    {"function_declaration", "generator_function_declaration", "function_signature"}
)
_JS_CLASSES = frozenset({"class_declaration", "abstract_class_declaration", "class"})
_JS_FUNC_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_JS_METHODS = frozenset({"method_definition", "abstract_method_signature", "method_signature"})


def _js_walk(out: _Out, parent: Node, owner: str) -> None:
    for node in parent.named_children:
        t = node.type
        if t == "export_statement" or t == "ambient_declaration":
            decl = node.child_by_field_name("declaration")
            if decl is not None:
                _js_decl(out, decl, owner, node)
            else:
                _js_walk(out, node, owner)
        elif t == "expression_statement":
            _js_walk(out, node, owner)
        else:
            _js_decl(out, node, owner, node)


def _js_decl(out: _Out, node: Node, owner: str, outer: Node) -> None:
    t = node.type
    name = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    if t in _JS_FUNCS:
        out.add(outer, name, "function", owner, body)
    elif t in _JS_CLASSES:
        cls = out.add(outer, name, "class", owner, body)
        if body is not None and cls:
            for member in body.named_children:
                if member.type in _JS_METHODS:
                    mbody = member.child_by_field_name("body")
                    out.add(member, member.child_by_field_name("name"), "method", cls, mbody)
    elif t == "interface_declaration":
        iface = out.add(outer, name, "interface", owner, body)
        if body is not None and iface:
            for member in body.named_children:
                if member.type == "method_signature":
                    out.add(member, member.child_by_field_name("name"), "method", iface, None)
    elif t == "type_alias_declaration":
        out.add(outer, name, "type", owner, None)
    elif t == "enum_declaration":
        out.add(outer, name, "enum", owner, body)
    elif t in ("internal_module", "module"):
        ns = out.add(outer, name, "namespace", owner, body)
        if body is not None:
            _js_walk(out, body, f"{owner}.{ns}" if owner else ns)
    elif t in ("lexical_declaration", "variable_declaration"):
        is_const = t == "lexical_declaration" and _text(out.src, node).startswith("const")
        for decl in node.named_children:
            if decl.type != "variable_declarator":
                continue
            dname = decl.child_by_field_name("name")
            if dname is None or dname.type != "identifier":
                continue
            value = decl.child_by_field_name("value")
            if value is not None and value.type in _JS_FUNC_VALUES:
                out.add(outer, dname, "function", owner, value.child_by_field_name("body"))
            elif value is not None and value.type == "class":
                out.add(outer, dname, "class", owner, value.child_by_field_name("body"))
            elif is_const:
                out.add(outer, dname, "constant", owner, None)


@cache
def _js_import_query(language: str) -> Query:
    from tree_sitter import Query  # heavy: loaded on the first parse, never by a warm map

    return Query(
        get_language(language),
        """
        (import_statement source: (string (string_fragment) @src))
        (export_statement source: (string (string_fragment) @src))
        (call_expression function: (identifier) @fn arguments: (arguments . (string (string_fragment) @src)))
        (call_expression function: (import) @fn arguments: (arguments . (string (string_fragment) @src)))
        """,
    )


def _js_imports(src: bytes, root: Node, language: str) -> tuple[Imp, ...]:
    from tree_sitter import QueryCursor

    found: list[tuple[int, str]] = []
    for _, caps in QueryCursor(_js_import_query(language)).matches(root):
        fn = caps.get("fn")
        if fn and _text(src, fn[0]) not in ("require", "import"):
            continue
        for node in caps.get("src", []):
            found.append((node.start_byte, _text(src, node)))
    found.sort()
    return tuple(dict.fromkeys((spec, ()) for _, spec in found))


def extract_js(src: bytes, root: Node, language: str) -> Extracted:
    out = _Out(src, "\"'`")
    _js_walk(out, root, "")
    flags = ("syntax-error",) if root.has_error else ()
    return Extracted(
        _file_doc(src, root), _js_imports(src, root, language), tuple(out.symbols), flags
    )


# ---------------------------------------------------------------- Go


def _go_receiver(src: bytes, node: Node) -> str:
    recv = node.child_by_field_name("receiver")
    if recv is None:
        return ""
    for param in recv.named_children:
        typ = param.child_by_field_name("type")
        if typ is not None:
            text = _text(src, typ).lstrip("*")
            return text.split("[", 1)[0]
    return ""


def extract_go(src: bytes, root: Node) -> Extracted:
    out = _Out(src, '"`')
    imports: list[Imp] = []
    doc = ""
    for node in root.named_children:
        t = node.type
        if t == "package_clause":
            doc = _doc_above(src, node)
        elif t == "function_declaration":
            out.add(
                node,
                node.child_by_field_name("name"),
                "function",
                "",
                node.child_by_field_name("body"),
            )
        elif t == "method_declaration":
            out.add(
                node,
                node.child_by_field_name("name"),
                "method",
                _go_receiver(src, node),
                node.child_by_field_name("body"),
            )
        elif t == "type_declaration":
            for spec in node.named_children:
                if spec.type not in ("type_spec", "type_alias"):
                    continue
                typ = spec.child_by_field_name("type")
                kind = {"struct_type": "struct", "interface_type": "interface"}.get(
                    typ.type if typ is not None else "", "type"
                )
                body = typ.child_by_field_name("body") if typ is not None else None
                if typ is not None and typ.type in ("struct_type", "interface_type"):
                    body = typ.named_children[0] if typ.named_child_count else None
                out.add(spec, spec.child_by_field_name("name"), kind, "", body)
        elif t in ("const_declaration", "var_declaration"):
            kind = "constant" if t == "const_declaration" else "variable"
            specs = [s for s in node.named_children if s.type in ("const_spec", "var_spec")]
            for spec_list in node.named_children:
                if spec_list.type == "var_spec_list":
                    specs.extend(s for s in spec_list.named_children if s.type == "var_spec")
            for spec in specs:
                for name in spec.children_by_field_name("name"):
                    out.add(spec, name, kind, "", None)
        elif t == "import_declaration":
            specs = [s for s in node.named_children if s.type == "import_spec"]
            for lst in node.named_children:
                if lst.type == "import_spec_list":
                    specs.extend(s for s in lst.named_children if s.type == "import_spec")
            for spec in specs:
                path = spec.child_by_field_name("path")
                if path is not None:
                    imports.append((_text(src, path).strip('"`'), ()))
    flags = ("syntax-error",) if root.has_error else ()
    return Extracted(doc, tuple(dict.fromkeys(imports)), tuple(out.symbols), flags)


# ---------------------------------------------------------------- Rust

_RUST_KINDS = {
    "function_item": "function",
    "function_signature_item": "function",
    "struct_item": "struct",
    "enum_item": "enum",
    "union_item": "union",
    "trait_item": "trait",
    "type_item": "type",
    "const_item": "constant",
    "static_item": "constant",
    "macro_definition": "macro",
    "mod_item": "module",
}


def _rust_walk(out: _Out, parent: Node, owner: str, imports: list[Imp], in_impl: bool) -> None:
    src = out.src
    for node in parent.named_children:
        t = node.type
        if t == "use_declaration":
            arg = node.child_by_field_name("argument")
            if arg is not None:
                imports.append((one_line(_text(src, arg)), ()))
        elif t == "impl_item":
            typ = node.child_by_field_name("type")
            body = node.child_by_field_name("body")
            name = _text(src, typ).split("<", 1)[0] if typ is not None else ""
            out.add(node, typ, "impl", owner, body)
            if body is not None and name:
                _rust_walk(out, body, name, imports, True)
        elif t in _RUST_KINDS:
            kind = _RUST_KINDS[t]
            if kind == "function" and in_impl:
                kind = "method"
            body = node.child_by_field_name("body")
            if t in ("const_item", "static_item", "type_item"):
                body = None
            elif t == "macro_definition":
                rules = [c for c in node.named_children if c.type == "macro_rule"]
                body = rules[0] if rules else None
            name = out.add(node, node.child_by_field_name("name"), kind, owner, body)
            if t == "trait_item" and body is not None and name:
                _rust_walk(out, body, name, imports, True)
            elif t == "mod_item" and name:
                if body is None:
                    imports.append((f"mod {name}", ()))
                else:
                    _rust_walk(out, body, f"{owner}::{name}" if owner else name, imports, False)


def extract_rust(src: bytes, root: Node) -> Extracted:
    out = _Out(src, '"')
    imports: list[Imp] = []
    _rust_walk(out, root, "", imports, False)
    doc = ""
    first = root.children[0] if root.child_count else None
    if (
        first is not None
        and first.type in _COMMENTS
        and _text(src, first).startswith(("//!", "/*!"))
    ):
        doc = comment_doc(_text(src, first))
    flags = ("syntax-error",) if root.has_error else ()
    return Extracted(doc, tuple(dict.fromkeys(imports)), tuple(out.symbols), flags)
