"""Building blocks of causal generative models over images.

A deep SCM over images is an ordinary Pyro program describing one unit: its attributes are
sites with mechanisms, its image is a site whose law is a decoder's output, and its latent
code has an amortised guide built on an encoder. These blocks are what such a program is
made of; every causalppl query reads their exogenous noise, so counterfactual images keep
each unit's own pixel noise.

* Decoders (latent code and parent values in, pixels ``[..., C, H, W]`` out):
  :class:`MLPDecoder` (runs :func:`causalppl.kernels.decoder_forward`: the fused Triton
  kernel on a GPU) and :class:`ConvDecoder`.
* Encoders (pixels and observed attributes in, a Normal's ``(loc, scale)`` out):
  :class:`MLPEncoder`, :class:`ConvEncoder`.
* Image likelihoods with event shape ``(C, H, W)`` and exact noise forms:
  :class:`NormalImage` (with the :class:`NormalImageLikelihood` head), :class:`BernoulliImage`,
  :class:`DiscretizedLogistic`; :func:`bits_per_dim` states the bits-per-dimension
  convention.
* Attribute mechanisms: :func:`attribute_flow` (conditional flows onto a real, positive or
  bounded support).
* Pseudo-oracles: :func:`pseudo_oracle` trains a reader of attributes from images, for
  effectiveness on data without a measurement.

Example:
    >>> import torch, pyro
    >>> import causalppl as cp
    >>> from causalppl import nn
    >>> thickness_law = nn.attribute_flow(0, support="positive")
    >>> decoder = nn.MLPDecoder(2, (1, 8, 8), hidden=(16,), out_activation=None, context_dim=1)
    >>> def model():
    ...     t = pyro.sample("thickness", thickness_law())
    ...     z = pyro.sample("z", pyro.distributions.Normal(torch.zeros(2), 1.0).to_event(1))
    ...     return pyro.sample("image", nn.DiscretizedLogistic(decoder(z, [t]), torch.tensor(-3.0)))
    >>> cp.graph(model).parents("image")
    ['thickness', 'z']
"""

from .attributes import AttributeFlow, attribute_flow
from .decoders import ConvDecoder, MLPDecoder
from .discretized import DiscretizedLogistic, DiscretizedLogisticNoise
from .encoders import ConvEncoder, MLPEncoder
from .likelihoods import BernoulliImage, NormalImage, NormalImageLikelihood, bits_per_dim
from .oracle import PseudoOracle, pseudo_oracle

__all__ = [
    "AttributeFlow",
    "BernoulliImage",
    "ConvDecoder",
    "ConvEncoder",
    "DiscretizedLogistic",
    "DiscretizedLogisticNoise",
    "MLPDecoder",
    "MLPEncoder",
    "NormalImage",
    "NormalImageLikelihood",
    "PseudoOracle",
    "attribute_flow",
    "bits_per_dim",
    "pseudo_oracle",
]
