"""Sphinx configuration: API reference (autodoc + autosummary + napoleon), tutorials (myst-nb).

Tutorials live in ``../tutorials`` as jupytext percent-format ``.py`` files; they are copied
into ``generated/tutorials`` (git-ignored) at the start of each build and read as notebooks.
``CAUSALPPL_DOCS_EXECUTE`` sets myst-nb's execution mode: ``off`` (quick build, no outputs),
``cache`` (the default: execute what changed, reuse the rest) or ``force``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import shutil
import sys
from pathlib import Path

__all__: list[str] = []

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import causalppl  # noqa: E402

project = "causalppl"
author = "causalppl developers"
copyright = "2026, causalppl developers"
release = causalppl.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_nb",
]

# -- sources ---------------------------------------------------------------------------------
TUTORIALS_OUT = DOCS / "generated" / "tutorials"


def _copy_tutorials() -> None:
    """Mirror ../tutorials/*.py into generated/tutorials, keeping mtimes (incremental builds)."""
    TUTORIALS_OUT.mkdir(parents=True, exist_ok=True)
    sources = {p.name: p for p in sorted((ROOT / "tutorials").glob("[0-9]*.py"))}
    for stale in TUTORIALS_OUT.glob("*.py"):
        if stale.name not in sources:
            stale.unlink()
    for name, src in sources.items():
        dst = TUTORIALS_OUT / name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copy2(src, dst)


_copy_tutorials()

# -- API pages -------------------------------------------------------------------------------
# api.rst lists the top-level names by hand (the stable surface of API.md). Each public
# subpackage gets a generated page with an autosummary of its ``__all__``, so a name added to
# a subpackage is documented without touching the docs.
API_OUT = DOCS / "generated" / "api"
NOT_API = {"bench"}  # benchmark scripts: run through ``causalppl bench``, not imported
# Public plain modules (the others are packages). A module with a page of its own is linked,
# not documented again, from the package that exports it (``causalppl.testing.strategies``).
MODULES = ["causalppl.errors", "causalppl.testing.assertions", "causalppl.testing.strategies"]


def _subpackages() -> list[str]:
    found = [
        f"causalppl.{p.parent.name}"
        for p in sorted((ROOT / "causalppl").glob("*/__init__.py"))
        if not p.parent.name.startswith("_") and p.parent.name not in NOT_API
    ]
    if (ROOT / "kernels" / "__init__.py").exists():
        found.append("causalppl.kernels")
    return sorted(found + MODULES)


def _public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:  # fall back to what the package itself defines
        names = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", "").startswith(module.__name__)
        ]
    return sorted(names, key=lambda n: (not n[:1].isupper(), n.lower()))


def _has_identity(obj) -> bool:
    """Classes, functions and modules are documented once; plain values (constants) are not
    compared by identity (interned strings and small ints would collide)."""
    return inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj)


def _api_page(modname: str, documented: dict[int, str]) -> str:
    """One subpackage's page. An object already documented under another name (most often a
    top-level ``cp.*`` re-export) is linked, not documented twice: two descriptions of one
    class make Sphinx's cross-references ambiguous. The linked names get a table of their own
    (no stub pages), so every name in ``__all__`` appears on the page with its summary."""
    module = importlib.import_module(modname)
    parent, _, leaf = modname.rpartition(".")
    # ``causalppl.graph`` is also the function ``cp.graph``: index the function, not the module.
    shadowed = getattr(sys.modules[parent], leaf, module) is not module
    lines = [modname, "=" * len(modname), "", f".. automodule:: {modname}", "   :no-members:"]
    if shadowed:
        lines.append("   :no-index:")
    own, elsewhere = [], []
    for name in _public_names(module):
        obj = getattr(module, name)
        if _has_identity(obj) and id(obj) in documented:
            elsewhere.append(documented[id(obj)])
            continue
        if _has_identity(obj):
            documented[id(obj)] = f"{modname}.{name}"
        own.append(name)
    if own:
        lines += ["", f".. currentmodule:: {modname}", "", ".. autosummary::", "   :toctree: ..", ""]
        lines += [f"   {name}" for name in own]
    if elsewhere:
        lines += ["", "Also exported here, documented elsewhere:", "", ".. autosummary::", ""]
        # autosummary refuses a name under the current module spelled in full (a submodule).
        lines += [f"   ~{target.removeprefix(modname + '.')}" for target in elsewhere]
    return "\n".join(lines) + "\n"


def _write_api_pages() -> list[str]:
    """Write the pages; returns their paths relative to ``docs/``."""
    API_OUT.mkdir(parents=True, exist_ok=True)
    documented = {
        id(obj): f"causalppl.{name}" for name in causalppl.__all__ if _has_identity(obj := getattr(causalppl, name))
    }
    modules = _subpackages()
    documented.update({id(importlib.import_module(m)): m for m in modules if m in MODULES})
    pages = {f"{m}.rst": _api_page(m, documented) for m in modules}
    for stale in API_OUT.glob("*.rst"):
        if stale.name not in pages:
            stale.unlink()
    for name, text in pages.items():
        path = API_OUT / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    _remove_stale_stubs([(DOCS / "api.rst").read_text(), *pages.values()])
    return [str(API_OUT.relative_to(DOCS) / name) for name in sorted(pages)]


def _remove_stale_stubs(sources: list[str]) -> None:
    """Delete the stub pages in ``generated/`` that no autosummary table asks for any more (a
    renamed or moved name): autosummary never removes them, and a stale stub is a duplicate
    description or a page outside every toctree, both errors under ``-W``. All the toctree
    tables (api.rst, the pages above) write their stubs to ``generated/``."""
    wanted: set[str] = set()
    for text in sources:
        current = ""
        for match in re.finditer(r"^\.\. currentmodule:: (\S+)$|^\.\. autosummary::\n((?:[ \t]+.*\n|\n)+)", text, re.M):
            if match[1]:
                current = match[1]
                continue
            entries = [line.strip() for line in match[2].splitlines() if line.strip()]
            if any(e.startswith(":toctree:") for e in entries):
                wanted |= {f"{current}.{e.lstrip('~')}" for e in entries if not e.startswith(":")}
    for stub in (DOCS / "generated").glob("*.rst"):
        if stub.stem not in wanted:
            stub.unlink()


API_PAGES = _write_api_pages()

# ``.py`` is a notebook suffix here (jupytext), so every other .py under docs/ is excluded.
exclude_patterns = ["_build", "_templates", "conf.py", "jupyter_execute", ".jupyter_cache", "**/.ipynb_checkpoints"]
templates_path = ["_templates"]
root_doc = "index"

# -- API reference ---------------------------------------------------------------------------
# The files whose autosummary tables get stub pages, listed rather than ``True``: on an
# incremental build ``True`` means the documents found by the *previous* build, so a page
# that _write_api_pages just added would get no stubs.
autosummary_generate = ["api.rst", *API_PAGES]
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Class "Attributes:" sections become :ivar: fields, so they never duplicate a documented member.
napoleon_use_ivar = True
napoleon_use_rtype = False

# -- notebooks -------------------------------------------------------------------------------
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = os.environ.get("CAUSALPPL_DOCS_EXECUTE", "cache")
if nb_execution_mode not in ("off", "auto", "cache", "force", "inline"):
    raise ValueError(f"CAUSALPPL_DOCS_EXECUTE must be off, auto, cache, force or inline; got {nb_execution_mode!r}")
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3


# -- hooks ----------------------------------------------------------------------------------
def _drop_inherited_type_docs(app, what, name, obj, options, lines):
    """A constant (a dict, a tuple) has no docstring of its own; autodoc would show its
    type's (``dict()`` -> new empty dictionary ...). Show none instead."""
    own = getattr(obj, "__doc__", None)
    if what in ("data", "attribute") and own is not None and own == getattr(type(obj), "__doc__", None):
        lines.clear()


def setup(app):
    app.connect("autodoc-process-docstring", _drop_inherited_type_docs)


# -- output ----------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"causalppl {release}"
html_static_path: list[str] = []
