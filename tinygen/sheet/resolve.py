"""Resolving imports to repository files.

Python: absolute imports through an index of module names (the dotted path from the
repository root, and from the top of each package, so ``src/`` layouts resolve too),
relative imports against the importing file's package; ``from x import y`` prefers the
submodule ``x.y`` when it exists. JS/TS: relative specifiers, with the usual extensions,
``index`` files, and ``.js`` written for a ``.ts`` source. Go: import paths under the
module named in ``go.mod``. Rust: ``mod x;`` and ``crate::`` paths.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from functools import cached_property

from tinygen.sheet.extract_common import Imp

_JS_EXTS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".d.ts")
_JS_SWAP = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}


class Resolver:
    def __init__(self, paths: Iterable[str], go_modules: dict[str, str] | None = None) -> None:
        self.paths = frozenset(paths)
        self.go_modules = go_modules or {}  # module path -> folder of its go.mod

    @cached_property
    def modules(self) -> dict[str, str]:
        """Python module name -> path. Built on first use: a run that re-resolves one
        changed file needs it only when that file has absolute Python imports."""
        modules: dict[str, str] = {}
        py = sorted(p for p in self.paths if p.endswith((".py", ".pyi")))
        # str.rpartition rather than posixpath.dirname: this runs for every Python path.
        inits = {p.rpartition("/")[0] for p in py if p.rpartition("/")[2].startswith("__init__.")}
        rooted: list[tuple[str, str]] = []
        for path in py:
            parts = path.rsplit(".", 1)[0].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if not parts:
                continue
            modules.setdefault(".".join(parts), path)
            # The package-relative name: drop leading folders that are not packages.
            top = path.rpartition("/")[0]
            while top and top in inits:
                top = top.rpartition("/")[0]
            depth = len(top.split("/")) if top else 0
            if depth and len(parts) > depth:
                rooted.append((".".join(parts[depth:]), path))
        for name, path in rooted:
            modules.setdefault(name, path)
        return modules

    @cached_property
    def go_dirs(self) -> dict[str, list[str]]:
        """Folder -> its non-test Go files."""
        go_dirs: dict[str, list[str]] = {}
        for path in sorted(self.paths):
            if path.endswith(".go") and not path.endswith("_test.go"):
                go_dirs.setdefault(posixpath.dirname(path), []).append(path)
        return go_dirs

    def resolve(self, path: str, language: str | None, imports: tuple[Imp, ...]) -> tuple[str, ...]:
        out: list[str] = []
        for module, names in imports:
            if language == "python":
                out.extend(self._python(path, module, names))
            elif language in ("javascript", "typescript", "tsx"):
                out.extend(self._js(path, module))
            elif language == "go":
                out.extend(self._go(module))
            elif language == "rust":
                out.extend(self._rust(path, module))
        return tuple(p for p in dict.fromkeys(out) if p != path)

    # -- Python

    def _py_file(self, folder: str, dotted: str) -> str | None:
        base = posixpath.join(folder, *dotted.split(".")) if dotted else folder
        for cand in (base + ".py", base + "/__init__.py", base + ".pyi", base + "/__init__.pyi"):
            if cand in self.paths:
                return cand
        return None

    def _python(self, path: str, module: str, names: tuple[str, ...]) -> list[str]:
        if module.startswith("."):
            level = len(module) - len(module.lstrip("."))
            rest = module[level:]
            folder = posixpath.dirname(path)
            for _ in range(level - 1):
                if not folder:
                    return []
                folder = posixpath.dirname(folder)
            subs = [self._py_file(folder, f"{rest}.{n}" if rest else n) for n in names if n != "*"]
            found = [s for s in subs if s]
            if found:
                return found
            target = self._py_file(folder, rest)
            return [target] if target else []
        subs = [self.modules.get(f"{module}.{n}") for n in names if n != "*"]
        found = [s for s in subs if s]
        if found:
            return found
        target = self.modules.get(module)
        return [target] if target else []

    # -- JavaScript / TypeScript

    def _js(self, path: str, spec: str) -> list[str]:
        if not spec.startswith(("./", "../")) and spec not in (".", ".."):
            return []
        base = posixpath.normpath(posixpath.join(posixpath.dirname(path), spec))
        if base.startswith("../"):
            return []
        cands = [base]
        stem, ext = posixpath.splitext(base)
        cands += [stem + alt for alt in _JS_SWAP.get(ext, ())]
        cands += [base + e for e in _JS_EXTS]
        cands += [f"{base}/index{e}" for e in _JS_EXTS]
        for cand in cands:
            if cand in self.paths:
                return [cand]
        return []

    # -- Go

    def _go(self, spec: str) -> list[str]:
        for module, folder in self.go_modules.items():
            if spec == module or spec.startswith(module + "/"):
                rel = spec[len(module) :].lstrip("/")
                return self.go_dirs.get(posixpath.join(folder, rel).rstrip("/"), [])
        return []

    # -- Rust

    def _rust(self, path: str, spec: str) -> list[str]:
        folder = posixpath.dirname(path)
        if spec.startswith("mod "):
            name = spec[4:]
            stem = posixpath.basename(path)
            if stem not in ("mod.rs", "lib.rs", "main.rs"):
                folder = posixpath.join(folder, stem[:-3])
            for cand in (f"{folder}/{name}.rs", f"{folder}/{name}/mod.rs"):
                cand = cand.lstrip("/")
                if cand in self.paths:
                    return [cand]
            return []
        if not spec.startswith("crate::"):
            return []
        src = folder
        while src and posixpath.basename(src) != "src":
            src = posixpath.dirname(src)
        if not src:
            return []
        parts = spec[len("crate::") :].split("{", 1)[0].strip(":").split("::")
        for n in range(len(parts), 0, -1):
            base = posixpath.join(src, *parts[:n])
            for cand in (base + ".rs", base + "/mod.rs"):
                if cand in self.paths:
                    return [cand]
        return []
