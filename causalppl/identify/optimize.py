"""What the identifiability fitters share: one L-BFGS loop and one way to seed.

Every maximum-likelihood fitter here (ICA, factor analysis, interventional CRL) packs its
parameters into one vector, writes the negative log density of its Pyro program as a
function of that vector, and hands both to :func:`minimize_lbfgs`. Random starts come
from :func:`seeded_generator`, so a fit never touches the caller's global RNG.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import checks

__all__ = ["minimize_lbfgs", "seeded_generator"]


def minimize_lbfgs(
    loss: Callable[[torch.Tensor], torch.Tensor],
    init: torch.Tensor,
    *,
    steps: int,
    tolerance_grad: float = 1e-9,
    tolerance_change: float = 1e-12,
    lr: float = 1.0,
) -> torch.Tensor:
    """Minimise ``loss(v)`` over a flat vector ``v`` by L-BFGS with a strong-Wolfe line search.

    One call of :meth:`torch.optim.LBFGS.step` runs up to ``steps`` iterations and stops
    early when the gradient or the change of ``loss`` falls below its tolerance.

    Args:
        loss: maps the parameter vector (same shape as ``init``) to a scalar tensor,
            differentiable in it.
        init: the starting point (not modified).
        steps: the most L-BFGS iterations.
        tolerance_grad, tolerance_change: the stopping rules of ``torch.optim.LBFGS``.
        lr: the initial step length of each line search.

    Returns:
        The final parameter vector, detached (a new tensor).

    Example:
        >>> target = torch.tensor([1.0, -2.0], dtype=torch.float64)
        >>> v = minimize_lbfgs(lambda v: ((v - target) ** 2).sum(), torch.zeros(2, dtype=torch.float64),
        ...                    steps=50)
        >>> [round(float(t), 9) for t in v]
        [1.0, -2.0]
    """
    steps = checks.positive_int(steps, "steps")
    tolerance_grad = checks.nonnegative_number(tolerance_grad, "tolerance_grad")
    tolerance_change = checks.nonnegative_number(tolerance_change, "tolerance_change")
    lr = checks.positive_number(lr, "lr")
    # A fresh leaf with a contiguous gradient, as L-BFGS wants.
    flat = init.detach().reshape(-1).clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [flat],
        lr=lr,
        max_iter=steps,
        tolerance_grad=tolerance_grad,
        tolerance_change=tolerance_change,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        value = loss(flat.view(init.shape))
        value.backward()
        return value

    opt.step(closure)
    return flat.detach().view(init.shape).clone()


def seeded_generator(seed: int | None) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (``None``: fresh, non-reproducible).

    Example:
        >>> a = torch.rand(2, generator=seeded_generator(0))
        >>> bool(torch.equal(a, torch.rand(2, generator=seeded_generator(0))))
        True
        >>> seeded_generator(-1)
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: seed must be None or a non-negative int, got -1
    """
    seed = checks.seed(seed)
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(seed)
    return gen
