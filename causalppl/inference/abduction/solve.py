"""Evidence on a deterministic site determines its one latent input: solve for it.

With ``u ~ N(0, 1); y = pyro.deterministic("y", 2 * x + u)`` (explicit noise) and ``x`` and
``y`` observed, ``u`` is not uncertain: it is the solution of ``2 x + u = y``. Likewise
``h ~ N(x, 1); d = deterministic(h ** 3)`` with ``d`` observed fixes ``h``. Sampling
cannot find such a value (it has probability zero under any proposal), so it is solved for
by Newton's method, elementwise over units, and then counts as evidence: the rest of the
abduction is exact.
"""

from __future__ import annotations

import pyro.poutine as poutine
import torch

from ...errors import NonInvertibleError

__all__ = ["solve_deterministic"]

_ITERATIONS = 60


def solve_deterministic(program, info, evidence: dict, latent: list[str]) -> dict:
    """Values of latent sites that observed deterministic sites pin down, as extra evidence.

    Args:
        program: runs the model once (unit plate applied).
        info: the program's probe.
        evidence: placed evidence (the deterministic sites' observed values among it).
        latent: the unobserved sites whose noise the evidence informs.

    Raises:
        NonInvertibleError: an observed deterministic site depends on several latent sites,
            or Newton's method does not reach the observed value.
    """
    solved: dict = {}
    latent = set(latent)
    for name in [n for n in info.names if n in evidence and info.is_deterministic(n)]:
        inputs = [p for p in info.parents[name] if p in latent and p not in solved]
        if not inputs:
            continue
        if len(inputs) > 1:
            raise NonInvertibleError(
                f"evidence on deterministic site {name!r} depends on several latent sites {inputs}: observe all but "
                "one of them, or give the site a noise distribution"
            )
        solved[inputs[0]] = _newton(program, {**evidence, **solved}, name, inputs[0])
    return solved


def _newton(program, evidence, target: str, unknown: str) -> torch.Tensor:
    given = {k: v for k, v in evidence.items() if k != target}
    start = _run(program, given, None)
    t = start.nodes[unknown]["value"].detach().clone()
    goal = evidence[target]
    tol = (1e-9 if t.dtype == torch.float64 else 1e-4) * (1 + goal.abs())
    for _ in range(_ITERATIONS):
        t.requires_grad_(True)
        value = _run(program, {**given, unknown: t}, unknown).nodes[target]["value"]
        residual = value - goal
        if residual.shape != torch.broadcast_shapes(residual.shape, t.shape):
            break  # not elementwise in the unknown: Newton on the diagonal would be wrong
        (slope,) = torch.autograd.grad(residual.sum(), t)
        t = t.detach()
        if bool((residual.detach().abs() <= tol).all()):
            return t
        step = residual.detach() / slope
        if not bool(torch.isfinite(step).all()):
            break
        t = t - step
    raise NonInvertibleError(
        f"evidence on deterministic site {target!r} could not be traced back to its latent input {unknown!r} "
        "(Newton's method did not reach the observed value elementwise): observe it, or give the site a noise "
        "distribution"
    )


def _run(program, data, grad_site):
    with torch.set_grad_enabled(grad_site is not None), poutine.trace() as tr, poutine.condition(data=data):
        program()
    return tr.trace
