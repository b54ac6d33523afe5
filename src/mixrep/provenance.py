"""Code versions for Snakemake params: editing a module a stage imports reruns that stage and what follows.

A rule names its command's entry module (`get_code_version("mixrep.analyse.cli")`); its version hashes every
mixrep module that module imports, transitively. The imports are read statically (`ast`), every `import` /
`from ... import` in the file — also the ones inside functions, which the commands use to import torch-heavy
code lazily — plus string constants naming a mixrep module (the `mixrep` dispatcher's and the registries'
`importlib.import_module` targets). Importing `mixrep.a.b` runs `mixrep/__init__.py` and `mixrep/a/__init__.py`
too, so parent packages belong to the closure. Only mixrep modules count: third-party code is pinned by the
environment (requirements.lock), not hashed here.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import lru_cache
from pathlib import Path

PACKAGE = "mixrep"
_PACKAGE_ROOT = Path(__file__).resolve().parent
# a module named for importlib: `mixrep.a.b`, or `mixrep.a.b:Attr` (a registry's "module:Class" entry)
_MODULE_STRING = re.compile(rf"^({PACKAGE}(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?::[A-Za-z_][A-Za-z0-9_.]*)?$")


def module_name(part: str) -> str:
    """`mixrep.a.b` as is; a path relative to src/mixrep (`a/b.py`, `a`) as its dotted module name."""
    if part == PACKAGE or part.startswith(PACKAGE + "."):
        return part
    return ".".join([PACKAGE, *part.removesuffix(".py").strip("/").split("/")])


def module_file(name: str, root: Path = _PACKAGE_ROOT) -> Path | None:
    """The source file of a mixrep module (`a/b.py` or the package's `a/b/__init__.py`), None if none."""
    relative = Path(*name.split(".")[1:])
    for candidate in (root / relative.with_suffix(".py") if relative.parts else None, root / relative / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]


def imported_modules(name: str, root: Path = _PACKAGE_ROOT) -> set[str]:
    """The mixrep modules one module's source imports (anywhere in the file), resolved to existing modules."""
    path = module_file(name, root)
    if path is None:
        return set()
    stat = path.stat()  # parsed once per file version (the Snakefile asks for every rule)
    return set(_imports(name, path, stat.st_mtime_ns, stat.st_size, root))


@lru_cache(maxsize=4096)
def _imports(name: str, path: Path, mtime_ns: int, size: int, root: Path) -> frozenset[str]:
    del mtime_ns, size  # cache keys only: an edited file is parsed again
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package upwards
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join(package[:len(package) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_STRING.match(node.value):
            named = _MODULE_STRING.match(node.value).group(1)
            if module_file(named, root) is not None:  # a module named for importlib, not a dotted API name
                targets = [named]
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                found.update(m for m in _parents(target) if module_file(m, root) is not None)
    return frozenset(found)


def module_closure(*modules: str, root: Path = _PACKAGE_ROOT) -> tuple[str, ...]:
    """Every mixrep module the given modules import, transitively, with themselves and their parent packages."""
    seen: set[str] = set()
    todo = [m for name in modules for m in _parents(module_name(name))]
    while todo:
        name = todo.pop()
        if name in seen or module_file(name, root) is None:
            continue
        seen.add(name)
        todo.extend(imported_modules(name, root) - seen)
    missing = [name for name in modules if module_file(module_name(name), root) is None]
    if missing:
        raise ValueError(f"no mixrep module {', '.join(missing)} (code_version takes e.g. 'mixrep.analyse.cli')")
    return tuple(sorted(seen))


def code_version(*modules: str, root: Path = _PACKAGE_ROOT) -> str:
    """A short hash of the source of the given mixrep modules and everything they import (module_closure)."""
    digest = hashlib.sha256()
    for name in module_closure(*modules, root=root):
        path = module_file(name, root)
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
