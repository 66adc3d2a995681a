"""Gumbel-max: the counterfactual-stable SCM of a categorical law (Oberst & Sontag 2019)."""

from __future__ import annotations

import torch

__all__ = ["gumbel_max", "truncated_gumbel_posterior"]


def gumbel_max(logits: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``argmax_k(logits_k + g_k)``, broadcasting ``logits`` against ``g``."""
    return (logits + g).argmax(-1)


def truncated_gumbel_posterior(logits: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Draw ``g ~ p(g | argmax(logits + g) = k)`` exactly, ``g_j ~ Gumbel(0, 1)`` a priori.

    The maximum of ``logits_j + g_j`` is ``Gumbel(logsumexp(logits))`` and independent of
    which index attains it; given the maximum ``M``, every other ``logits_j + g_j`` is a
    ``Gumbel(logits_j)`` truncated to ``(-inf, M]``.

    Example:
        >>> torch.manual_seed(0)
        <torch._C.Generator object at ...>
        >>> logits = torch.tensor([0.5, -1.0, 2.0])
        >>> g = truncated_gumbel_posterior(logits.expand(1000, 3), torch.zeros(1000, dtype=torch.long))
        >>> bool(((logits + g).argmax(-1) == 0).all())
        True
    """
    shape = torch.broadcast_shapes(logits.shape[:-1], k.shape)
    logits = logits.expand(shape + logits.shape[-1:])
    k = k.expand(shape).unsqueeze(-1)
    tiny = torch.finfo(logits.dtype).tiny
    uniform = lambda: torch.rand(logits.shape, dtype=logits.dtype, device=logits.device).clamp_min(tiny)  # noqa: E731
    top = torch.logsumexp(logits, -1, keepdim=True) - torch.log(-torch.log(uniform()[..., :1]))
    free = logits - torch.log(-torch.log(uniform()))  # logits_j + Gumbel(0, 1)
    # Truncate Gumbel(logits_j) at M: -log(exp(-M) + exp(-free)).
    truncated = -torch.logaddexp(-top, -free)
    perturbed = truncated.scatter(-1, k, top)
    return perturbed - logits
