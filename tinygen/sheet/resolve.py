"""Resolving imports to repository files.

Python: absolute imports through an index of module names (the dotted path from the
repository root, and from the folder holding each top-level package and from ``src/``
folders, so ``src/`` layouts resolve too), then the importing script's own folder when
it is not a package; standard-library names only from the repository root; relative
imports against the importing file's package; ``from x import y`` prefers the submodule
``x.y`` when it exists. JS/TS: relative specifiers, with the usual extensions,
``index`` files, and ``.js`` written for a ``.ts`` source. Go: import paths under the
module named in ``go.mod``. Rust: ``mod x;`` and ``crate::`` paths.
"""

from __future__ import annotations

import posixpath
import sys
from collections.abc import Iterable
from functools import cached_property

from tinygen.sheet.extract_common import Imp

_JS_EXTS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".d.ts")
_JS_SWAP = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}


# Bump when resolution changes: the cache keeps resolved imports (see cache.py).
RESOLVER_VERSION = 2

# Top-level names of the standard library: ``import logging`` means the stdlib's, not an
# ``examples/logging.py`` of the repository (unless the repository root has it).
_STDLIB = frozenset(sys.stdlib_module_names)


class Resolver:
    def __init__(self, paths: Iterable[str], go_modules: dict[str, str] | None = None) -> None:
        self.paths = frozenset(paths)
        self.go_modules = go_modules or {}  # module path -> folder of its go.mod

    @cached_property
    def _inits(self) -> frozenset[str]:
        """Folders that are Python packages (have an ``__init__.py``/``.pyi``)."""
        return frozenset(
            p.rpartition("/")[0]
            for p in self.paths
            if p.rpartition("/")[2] in ("__init__.py", "__init__.pyi")
        )

    @cached_property
    def modules(self) -> dict[str, str]:
        """Python module name -> path, for names from the repository root. Built on first
        use: a run that re-resolves one changed file needs it only when that file has
        absolute Python imports."""
        modules: dict[str, str] = {}
        for path in sorted(p for p in self.paths if p.endswith((".py", ".pyi"))):
            parts = path.rsplit(".", 1)[0].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts:
                modules.setdefault(".".join(parts), path)
        return modules

    @cached_property
    def rooted(self) -> dict[str, str]:
        """Module name -> path, for names from the other places a project puts on
        ``sys.path``: the folder holding a top-level package (``src/pkg/a.py`` is
        ``pkg.a``; ``backend/app/models.py`` is ``app.models`` when ``app`` is a package
        and ``backend`` is not) and ``src/`` folders. A plain module in any other folder
        (``examples/logging.py``) is found only from its own folder (``_local``)."""
        inits = self._inits
        rooted: dict[str, str] = {}
        for path in sorted(p for p in self.paths if p.endswith((".py", ".pyi"))):
            parts = path.rsplit(".", 1)[0].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            # str.rpartition rather than posixpath.dirname: this runs for every path.
            own = path.rpartition("/")[0]
            top = own
            while top and top in inits:
                top = top.rpartition("/")[0]
            if not top or (top == own and top.rpartition("/")[2] != "src"):
                continue
            depth = len(top.split("/"))
            if len(parts) > depth:
                rooted.setdefault(".".join(parts[depth:]), path)
        return rooted

    def _absolute(self, path: str, dotted: str) -> str | None:
        """The file an absolute import of ``dotted`` in ``path`` means, if it is ours."""
        hit = self.modules.get(dotted)
        if hit is not None or dotted.partition(".")[0] in _STDLIB:
            return hit
        hit = self.rooted.get(dotted)
        if hit is not None:
            return hit
        own = path.rpartition("/")[0]
        if own and own not in self._inits:
            return self._py_file(own, dotted)  # a script's folder is on sys.path
        return None

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
        subs = [self._absolute(path, f"{module}.{n}") for n in names if n != "*"]
        found = [s for s in subs if s]
        if found:
            return found
        target = self._absolute(path, module)
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
