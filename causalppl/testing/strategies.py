"""Hypothesis strategies for random causal ground truths, all seeded explicitly.

Hypothesis does not seed torch: every strategy that builds tensors draws an integer seed
(so it shrinks and replays like any other drawn value) and uses its own
``torch.Generator``. Graph structure and discrete choices are drawn by hypothesis itself,
so failures shrink towards small, sparse graphs. Graphs, SCMs and interventions live in
:mod:`~causalppl.testing.scm_strategies`, latent-variable ground truths in
:mod:`~causalppl.testing.latent_strategies`; this module gathers both.

Example:
    >>> from hypothesis import given
    >>> from causalppl.testing import strategies as st
    >>> @given(st.dags(max_nodes=4))
    ... def test_roots_come_first(g):
    ...     assert g.parents(g.nodes[0]) == []
    >>> test_roots_come_first()
"""

from .latent_strategies import (
    interventional_contexts,
    invertible_linear_mixings,
    leaky_relu_mlp_mixings,
    segment_latent_models,
)
from .scm_strategies import dags, interventions, linear_gaussian_scms, linear_scms, nonlinear_anms, seeds

__all__ = [
    "dags",
    "interventional_contexts",
    "interventions",
    "invertible_linear_mixings",
    "leaky_relu_mlp_mixings",
    "linear_gaussian_scms",
    "linear_scms",
    "nonlinear_anms",
    "seeds",
    "segment_latent_models",
]
