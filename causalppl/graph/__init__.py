"""Causal graphs as data: nodes, edges, mutilation, twin networks; rendered to DOT last.

Reading the graph of a Pyro program is :func:`causalppl.graph` (in :mod:`causalppl.program`).

Example:
    >>> from causalppl.graph import CausalGraph
    >>> CausalGraph({"x": [], "y": ["x"]}).edges
    [('x', 'y')]
"""

from .causal_graph import CausalGraph
from .render import graph_to_dot, has_dot, render

__all__ = ["CausalGraph", "graph_to_dot", "has_dot", "render"]
