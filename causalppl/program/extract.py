"""``cp.graph``: the causal DAG of a Pyro program, read by tracing it once."""

from __future__ import annotations

from ..graph import CausalGraph
from .trace import exogenous_sites, trace_sites

__all__ = ["graph"]


def graph(model, *args, include_noise: bool = False, **kwargs) -> CausalGraph:
    """The causal DAG of a Pyro program, read by tracing it once.

    Sample sites are nodes; ``a -> b`` when the distribution of ``b`` depends on the value
    of ``a``. Exogenous-noise sites are left out unless ``include_noise``: a site marked
    ``infer={"exogenous": True}``, or a parentless site whose only child is a
    ``pyro.deterministic`` site (the ``u = sample(...); y = deterministic(f(pa, u))``
    pattern). Hard interventions (``cp.do``) remove the edges into their targets.

    Example:
        >>> import torch, pyro, pyro.distributions as dist
        >>> import causalppl as cp
        >>> def model():
        ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
        ...     h = pyro.sample("h", dist.Normal(x, 1.0))
        ...     return pyro.sample("y", dist.Normal(x + h, 1.0))
        >>> cp.graph(model).edges
        [('x', 'h'), ('x', 'y'), ('h', 'y')]
        >>> cp.graph(cp.do(model, {"h": 2.0})).parents("h")
        []
    """
    from .. import checks

    checks.model(model)
    sites, parents = trace_sites(model, *args, **kwargs)
    exogenous = exogenous_sites(sites, parents)
    intervened = {n for n, s in sites.items() if s["infer"].get("do") == "hard"}
    if include_noise:
        return CausalGraph(parents, intervened=intervened, exogenous=exogenous)
    spec = {n: [p for p in pa if p not in exogenous] for n, pa in parents.items() if n not in exogenous}
    return CausalGraph(spec, intervened=intervened)
