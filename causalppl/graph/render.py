"""Graphs are data first; this module turns them into DOT and, when ``dot`` exists, pictures."""

from __future__ import annotations

import os
import shutil

from ..errors import CausalError

__all__ = ["graph_to_dot", "render", "has_dot"]


def has_dot() -> bool:
    """Whether graphviz's ``dot`` binary is on the PATH."""
    return shutil.which("dot") is not None


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_to_dot(graph, name: str = "G") -> str:
    """DOT source: intervened nodes are boxes, exogenous noise nodes dashed and small."""
    lines = [f"digraph {_quote(name)} {{", "  rankdir=TB;", '  node [shape=ellipse, fontname="Helvetica"];']
    for n in graph.nodes:
        attrs = []
        if n in graph.intervened:
            attrs += ["shape=box", "style=filled", 'fillcolor="#f6d8ae"']
        elif n in graph.exogenous:
            attrs += ["style=dashed", "fontsize=10"]
        lines.append(f"  {_quote(n)}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    for p, c in graph.edges:
        style = " [style=dashed]" if p in graph.exogenous else ""
        lines.append(f"  {_quote(p)} -> {_quote(c)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(graph, filename: str = "graph", format: str = "svg", *, cleanup: bool = True) -> str:
    """Render with graphviz; returns the output path (``filename.format``).

    Raises:
        RuntimeError: when the ``dot`` binary is missing (use :meth:`CausalGraph.to_dot`).
    """
    import graphviz

    if not isinstance(format, str) or format not in graphviz.FORMATS:
        raise CausalError(f"format must be one of graphviz's output formats (e.g. 'svg', 'png', 'pdf'), got {format!r}")
    if not has_dot():
        raise RuntimeError(
            "graphviz's 'dot' binary is not installed (apt-get install graphviz); "
            "CausalGraph.to_dot() gives the DOT source without it"
        )
    src = graphviz.Source(graph_to_dot(graph))
    base, ext = os.path.splitext(filename)
    if ext.lstrip(".") == format:
        filename = base
    return src.render(filename, format=format, cleanup=cleanup)


def mimebundle(graph) -> dict:
    if has_dot():
        import graphviz

        return {"image/svg+xml": graphviz.Source(graph_to_dot(graph)).pipe(format="svg", encoding="utf-8")}
    return {"text/plain": graph_to_dot(graph)}
