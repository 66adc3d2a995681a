"""Mechanisms of scalar attributes (a digit's thickness, its intensity given the thickness).

:func:`attribute_flow` builds one line of a Deep SCM from :mod:`causalppl.mechanisms`: a
conditional flow of the parents (spline, affine or additive), optionally followed by a
fixed bijection onto the attribute's support. Calling it on parent values returns the
site's distribution, whose noise :func:`causalppl.noise.noise_model` recovers exactly::

    thickness_law = attribute_flow(0, support="positive", loc=1.0, scale=0.5)
    intensity_law = attribute_flow(1, support="unit_interval")
    def model():
        t = pyro.sample("thickness", thickness_law())
        i = pyro.sample("intensity", intensity_law([t]))

Positive and bounded attributes: the flow models an unconstrained variable ``y`` and the
site's value is ``x = T(y)`` for a fixed ``T``: ``support="positive"`` uses ``x = exp(y)``
(the flow models ``log x``, so ``loc`` and ``scale`` are in log units), and
``support="unit_interval"`` uses ``x = sigmoid(y)`` (the flow models ``logit x``). Any other
bijection (``torch.distributions.transforms``, e.g. a sigmoid followed by an affine map onto
``(low, high)``) may be given instead. Samples then stay in the support, and the log-density
includes the log-Jacobian of ``T``. Parent values enter the flow's network as given:
standardise them, or pass a transformed value (``[t.log()]``), when they are far from unit
scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyro.distributions as dist
import torch
from pyro.nn import PyroModule
from torch.distributions import transforms as T

from causalppl import checks
from causalppl.errors import CausalError
from causalppl.mechanisms import AdditiveNoise, AffineFlow, RootFlow, SplineFlow

from ._blocks import activation_name, unique_name

__all__ = ["AttributeFlow", "attribute_flow"]

KINDS = ("spline", "affine", "additive")
SUPPORTS = {"real": None, "positive": T.ExpTransform, "unit_interval": T.SigmoidTransform}


class AttributeFlow(PyroModule):
    """A scalar attribute's mechanism: a conditional flow, then a fixed map onto its support.

    Use :func:`attribute_flow` to build one (same arguments). ``flow`` is the underlying
    :mod:`causalppl.mechanisms` module; ``output`` the fixed transform (``None`` for
    ``support="real"``).

    Example:
        >>> import torch
        >>> intensity = AttributeFlow(1, "spline", bins=4, support="unit_interval")
        >>> d = intensity(torch.rand(3, 1))
        >>> type(d).__name__, tuple(d.batch_shape), [type(t).__name__ for t in d.transforms][-1]
        ('TransformedDistribution', (3,), 'SigmoidTransform')
    """

    def __init__(
        self,
        parents: int = 0,
        kind: str = "spline",
        *,
        bins: int = 8,
        bound: float = 4.0,
        hidden: Sequence[int] = (16,),
        activation: str = "tanh",
        support="real",
        loc: float = 0.0,
        scale: float = 1.0,
        name: str | None = None,
    ):
        super().__init__(name=name or unique_name(type(self)))
        self.parents = checks.int_at_least(parents, "parents", 0)
        self.kind = checks.choice(kind, "kind", KINDS)
        self.loc, self.scale = checks.finite_number(loc, "loc"), checks.positive_number(scale, "scale")
        hidden = checks.int_tuple(hidden, "hidden") if self.parents else ()  # a root's MLP sees no input
        activation = activation_name(activation)
        if self.kind == "spline":
            bins, bound = checks.int_at_least(bins, "bins", 2), checks.positive_number(bound, "bound")
            self.flow = (
                RootFlow(bins=bins, bound=bound, activation=activation)
                if not self.parents
                else SplineFlow(self.parents, bins=bins, bound=bound, hidden=hidden, activation=activation)
            )
        else:
            cls = AffineFlow if self.kind == "affine" else AdditiveNoise
            self.flow = cls(self.parents, hidden=hidden, activation=activation)
        if isinstance(support, T.Transform):
            if not support.bijective:
                raise CausalError(f"support must be a bijective transform, got {type(support).__name__}")
            self.output = support
        else:
            make = SUPPORTS[checks.choice(support, "support", SUPPORTS)]
            self.output = None if make is None else make()
        self.support = support if isinstance(support, str) else type(support).__name__

    def forward(self, parents=None) -> dist.TorchDistribution:
        """The attribute's law given parent values ``[..., parents]`` (or a list; none for a root)."""
        fn = self.flow.distribution(self.flow.raw(parents), self.loc, self.scale)
        if self.output is None:
            return fn
        if isinstance(fn, torch.distributions.TransformedDistribution):
            return dist.TransformedDistribution(fn.base_dist, [*fn.transforms, self.output])
        return dist.TransformedDistribution(fn, [self.output])

    def extra_repr(self) -> str:
        return f"parents={self.parents}, kind={self.kind!r}, support={self.support!r}"


def attribute_flow(
    parents: int = 0,
    kind: str = "spline",
    *,
    bins: int = 8,
    bound: float = 4.0,
    hidden: Sequence[int] = (16,),
    activation: str = "tanh",
    support="real",
    loc: float = 0.0,
    scale: float = 1.0,
    name: str | None = None,
) -> AttributeFlow:
    """The mechanism of a scalar attribute with ``parents`` parent values.

    Args:
        parents: how many parent values it reads (0: a root, a learnable marginal).
        kind: ``"spline"`` (:class:`~causalppl.mechanisms.SplineFlow`, or
            :class:`~causalppl.mechanisms.RootFlow` for a root: any smooth conditional law),
            ``"affine"`` (:class:`~causalppl.mechanisms.AffineFlow`: ``f(pa) + g(pa) u``) or
            ``"additive"`` (:class:`~causalppl.mechanisms.AdditiveNoise`: ``f(pa) + sigma u``).
        bins, bound: the spline's bins and half-width (``"spline"`` only).
        hidden: hidden widths of the network of the parents.
        activation: its activation.
        support: ``"real"``, ``"positive"`` (``x = exp(y)``), ``"unit_interval"``
            (``x = sigmoid(y)``) or a bijective ``torch.distributions.Transform``.
        loc, scale: the flow's output is ``loc + scale * y`` before the support map
            (the attribute's rough centre and spread in the flow's units).
        name: the module's Pyro name (unique by default).

    Returns:
        An :class:`AttributeFlow`; calling it on parent values returns the site's law.

    Example:
        >>> import torch, pyro
        >>> from causalppl.noise import noise_model
        >>> thickness = attribute_flow(0, support="positive", loc=1.0, scale=0.3)
        >>> intensity = attribute_flow(1, kind="affine", support="unit_interval")
        >>> t = thickness().sample((4,))
        >>> d = intensity([t])
        >>> i = d.sample()
        >>> bool((t > 0).all()), bool(((i > 0) & (i < 1)).all())
        (True, True)
        >>> nm = noise_model(d)
        >>> bool(torch.allclose(nm.push(nm.abduct(i)), i))
        True
    """
    return AttributeFlow(
        parents,
        kind,
        bins=bins,
        bound=bound,
        hidden=hidden,
        activation=activation,
        support=support,
        loc=loc,
        scale=scale,
        name=name,
    )
