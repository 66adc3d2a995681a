"""Mechanisms: modules that map parent values to a node's distribution.

Each mechanism is a :class:`~pyro.nn.PyroModule` whose forward takes the parent values
(``[..., n_parents]`` or a list) and returns the site's distribution, so it drops into
any Pyro program and every causalppl handler reads its exogenous noise:

- :class:`AdditiveNoise`: ``x = f(pa) + sigma * U`` (``Normal``).
- :class:`LocationScale`: ``x = f(pa) + g(pa) * U`` (``Normal``).
- :class:`AffineFlow`, :class:`SplineFlow`: conditional flows (``TransformedDistribution``,
  exact abduction through the inverse); :class:`RootFlow`: a learnable marginal.
- :class:`CategoricalMechanism`: ``Categorical(logits=MLP(pa))`` (Gumbel-max noise).

Example:
    >>> import torch, pyro
    >>> import causalppl as cp
    >>> from causalppl.mechanisms import AdditiveNoise, RootFlow
    >>> fx, fy = RootFlow(bins=4), AdditiveNoise(1, hidden=(8,))
    >>> def model():
    ...     x = pyro.sample("x", fx())
    ...     return pyro.sample("y", fy([x]))
    >>> cp.graph(model).edges
    [('x', 'y')]
"""

from .additive import AdditiveNoise
from .bank import ACTIVATIONS, MechanismBank
from .base import Mechanism, as_inputs
from .categorical import CategoricalMechanism
from .flow import AffineFlow, RootFlow, SplineFlow
from .heads import ADDITIVE, CATEGORICAL, FLOW, KINDS, LOCATION_SCALE
from .location_scale import LocationScale
from .spline import RQSplineTransform, rq_spline

__all__ = [
    "ACTIVATIONS",
    "ADDITIVE",
    "AdditiveNoise",
    "AffineFlow",
    "CATEGORICAL",
    "CategoricalMechanism",
    "FLOW",
    "KINDS",
    "LOCATION_SCALE",
    "LocationScale",
    "Mechanism",
    "MechanismBank",
    "RQSplineTransform",
    "RootFlow",
    "SplineFlow",
    "as_inputs",
    "rq_spline",
]
