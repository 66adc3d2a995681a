"""Route the stacked fast paths through :mod:`causalppl.kernels` when a kernel backend is on.

Only SCMs whose nodes are all scalar with one kind the fused kernels implement
(additive or location-scale Normal noise, at most two hidden layers) are routed, and only
when ``CAUSALPPL_KERNELS`` (or :func:`causalppl.kernels.use_backend`) selects ``triton``
or ``interpret``; everything else uses the torch path of :mod:`causalppl.scm.fast`, which
is the reference. The kernels and NeuralSCM share one parameter layout (see
:mod:`causalppl.kernels.mechanism.reference`), so the bank's tensors are passed as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from causalppl import kernels

from ..handlers.intervention import apply_action
from ..mechanisms.heads import ADDITIVE, additive_scale
from ..rng import seeded

__all__ = ["abduct", "backend", "counterfactual", "log_prob", "routed", "sample"]

MAX_HIDDEN = 2


def backend() -> str:
    """The kernel backend in use: ``"torch"`` (no routing), ``"triton"`` or ``"interpret"``."""
    return kernels.backend()


def routed(scm) -> bool:
    """Whether the fast paths of ``scm`` go through the kernels now."""
    lay = scm.layout
    return lay.kernel_ready and scm.bank.num_layers - 1 <= MAX_HIDDEN and backend() != "torch"


def _network(scm):
    bank = scm.bank
    scale = additive_scale(bank.raw_scale[:, 0]) if scm.layout.bank_kinds == [ADDITIVE] else None
    return (scm.parent_index, scm.parent_mask, bank.weights(), bank.biases(), bank.activation), scale


def log_prob(scm, X: torch.Tensor) -> torch.Tensor | None:
    """Summed log density (model units) ``[B]`` of every node, or ``None`` to use torch."""
    if not routed(scm):
        return None
    net, scale = _network(scm)
    return kernels.mechanism_forward(X, *net, scale=scale)[3]


def abduct(scm, X: torch.Tensor) -> torch.Tensor | None:
    """Noise ``[B, N]`` of every node, or ``None`` to use torch."""
    if not routed(scm):
        return None
    net, scale = _network(scm)
    return kernels.mechanism_forward(X, *net, scale=scale)[2]


def _predict(scm, u, mask, value):
    net, scale = _network(scm)
    order = torch.arange(len(scm.nodes), device=u.device)
    x = kernels.mechanism_sample(u, *net, order, scale=scale, intervene_mask=mask, intervene_value=value, variant="dag")
    data = scm.feature_loc + scm.feature_scale * x
    return {v: data[:, i] for i, v in enumerate(scm.nodes)}


def _standardised_actions(scm, do, n, dtype, device):
    """``(mask [N] bool, value [n, N])`` of constant interventions, or None for callables."""
    mask = torch.zeros(len(scm.nodes), dtype=torch.bool, device=device)
    value = torch.zeros(n, len(scm.nodes), dtype=dtype, device=device)
    for i, v in enumerate(scm.nodes):
        if v in do:
            if isinstance(do[v], Callable):
                return None
            target = apply_action(do[v], None, scm.prototype(v), v).to(dtype=dtype, device=device).expand(n)
            mask[i] = True
            value[:, i] = (target - scm.feature_loc[i]) / scm.feature_scale[i]
    return mask, value


def sample(scm, n, do, noise, seed):
    """Ancestral samples ``{node: [n]}`` through the kernel, or ``None`` to use torch."""
    if not routed(scm):
        return None
    dtype, device = scm.feature_loc.dtype, scm.feature_loc.device
    actions = _standardised_actions(scm, do, n, dtype, device)
    if actions is None:
        return None
    with seeded(seed):
        u = torch.stack(
            [
                torch.as_tensor(noise[v], dtype=dtype, device=device).expand(n)
                if v in noise
                else torch.randn(n, dtype=dtype, device=device)
                for v in scm.nodes
            ],
            1,
        )
    return _predict(scm, u, *actions)


def counterfactual(scm, X, values, do, affected):
    """Counterfactual world ``{node: [n]}`` through the kernels, or ``None`` to use torch.

    Nodes outside ``affected`` are pinned to their observed values (as interventions), so
    they are returned exactly as observed.
    """
    if not routed(scm):
        return None
    n = X.shape[0]
    actions = _standardised_actions(scm, do, n, X.dtype, X.device)
    if actions is None:
        return None
    mask, value = actions
    keep = torch.tensor([v not in affected for v in scm.nodes], device=X.device)
    value = torch.where(keep, X, value)
    out = _predict(scm, abduct(scm, X), mask | keep, value)
    return {v: out[v] if v in affected else values[v] for v in scm.nodes}
