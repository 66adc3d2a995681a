"""Causal graphs: read from programs, mutilated by interventions, rendered by graphviz."""

from .causal_graph import CausalGraph
from .extract import graph, trace_sites
from .render import graph_to_dot, has_dot, render

__all__ = ["CausalGraph", "graph", "graph_to_dot", "has_dot", "render", "trace_sites"]
