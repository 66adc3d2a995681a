"""The Sachs et al. (2005) protein-signalling data, shipped with the package.

Source and licence: ``causalppl/datasets/data/README.md`` (K. Sachs, O. Perez, D. Pe'er,
D. A. Lauffenburger, G. P. Nolan, Science 308 (2005) 523-529; this copy as distributed
with the Causal Discovery Toolbox ``cdt`` 0.6.0, MIT licence).
"""

from __future__ import annotations

import csv
import io
from importlib import resources

import numpy as np
import pandas as pd

from ..graph import CausalGraph

__all__ = ["REVERSED_EDGE", "load_sachs", "sachs_consensus_edges"]

# The 18 consensus edges contain one directed cycle, PIP3 -> plcg -> PIP2 -> PIP3. A causal
# graph must be acyclic, so load_sachs reverses one edge of it, PIP2 -> PIP3, into
# PIP3 -> PIP2: the orientation of the network in Sachs et al.'s Figure 3 and in the
# bnlearn "sachs" benchmark (PI3K makes PIP3 from PIP2, but only PIP3 is measured).
REVERSED_EDGE = ("PIP2", "PIP3")


def _text(name: str) -> str:
    return resources.files("causalppl.datasets").joinpath("data").joinpath(name).read_text(encoding="utf-8")


def sachs_consensus_edges() -> list[tuple[str, str]]:
    """The 18 consensus edges ``(cause, effect)`` exactly as shipped (one cycle included).

    Example:
        >>> edges = sachs_consensus_edges()
        >>> len(edges), edges[0]
        (18, ('PIP2', 'PKC'))
    """
    rows = list(csv.reader(io.StringIO(_text("consensus_edges.csv"))))
    return [(a, b) for a, b in rows[1:]]


def load_sachs(log: bool = True) -> tuple[pd.DataFrame, CausalGraph]:
    """7,466 single cells x 11 proteins, and the consensus graph made acyclic.

    Args:
        log: natural log of the raw concentrations (all are >= 1, so logs are >= 0).

    Returns:
        ``(data, graph)``: a DataFrame with one column per protein and the consensus
        :class:`~causalppl.CausalGraph` with the edge :data:`REVERSED_EDGE` reversed.

    Example:
        >>> data, graph = load_sachs()
        >>> data.shape, len(graph.edges), graph.parents("pmek")
        ((7466, 11), 18, ['praf', 'PKC', 'PKA'])
    """
    data = pd.read_csv(io.StringIO(_text("sachs.csv")), dtype=np.float64)
    if log:
        data = np.log(data)
    parents: dict[str, list[str]] = {c: [] for c in data.columns}
    for cause, effect in sachs_consensus_edges():
        if (cause, effect) == REVERSED_EDGE:
            cause, effect = effect, cause
        parents[effect].append(cause)
    return data, CausalGraph(parents)
