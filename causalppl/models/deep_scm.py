"""Deep structural causal models over images (Pawlowski, Castro & Glocker 2020).

A Deep SCM is an ordinary one-unit Pyro program: each attribute of the scene is a site
with a normalising-flow mechanism (:func:`causalppl.nn.attribute_flow`), each categorical
label a site with learned class frequencies, the style code ``z`` a standard Normal, and
the image a site ``Normal(decoder(z, parents), sigma)`` (:class:`causalppl.nn.NormalImage`),
so a counterfactual keeps each image's pixel noise ``u = (x - mu) / sigma`` exactly (the
site names its event dims, so results label them ``channel, height, width``). Its
amortised guide, an encoder of the observed sites, stands in for the posterior of ``z``.

The three variants of the paper differ only in their graph:

* ``"independent"``: the attributes are independent roots; the decoder reads ``z`` alone,
  so the image ignores the attributes (and intervening on them changes no pixel);
* ``"conditional"``: independent roots; the decoder (and encoder) also read every
  attribute and label;
* ``"full"``: the data's own attribute graph (``thickness -> intensity``) as well.

Nothing here is special to causalppl's queries: ``cp.graph``, ``cp.sample``, ``cp.fit``
and ``cp.counterfactual`` read this program like any user's.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pyro
import pyro.distributions as dist
import torch
from pyro.nn import PyroModule, pyro_method

from causalppl import checks, nn
from causalppl.errors import CausalError

from .attributes import DATASETS, ImageData

__all__ = ["DeepSCM"]

VARIANTS = ("independent", "conditional", "full")
NETWORKS = ("conv", "mlp")
IMAGE_DIMS = ("channel", "height", "width")  # the image's event dims, as named in query results
FEATURE_BOUND = 10.0  # networks read attributes in standard units, clipped to +-10
_NAMES = itertools.count()


class DeepSCM(PyroModule):
    """A Deep SCM of an image data set: attributes, labels, a style code ``z`` and the image.

    ``scm()`` samples one unit: the labels (``"digit"``), the attributes in the data's order
    (``"thickness"``, ``"intensity"``), ``"z"`` (``[latent_dim]``) and ``"image"``
    (``[C, H, W]``). Vectorise it the Pyro way, ``with pyro.plate("unit", n): scm()``; any
    site may arrive with extra leading dims (samples, worlds). :meth:`guide` is its
    amortised guide.

    Args:
        variant: ``"independent"``, ``"conditional"`` or ``"full"`` (module docstring).
        data: ``"morpho_digits"``, ``"pendulum"`` (:mod:`causalppl.datasets`) or an
            :class:`~causalppl.models.ImageData` declaring another data set's structure.
        image_size: the image's side in pixels, one of the data's sizes (28 for
            morpho_digits, 32 or 64 for pendulum; the first by default).
        latent_dim: width of ``z``.
        network: ``"conv"`` (:class:`~causalppl.nn.ConvEncoder` and
            :class:`~causalppl.nn.ConvDecoder`) or ``"mlp"`` (:class:`~causalppl.nn.MLPEncoder`
            and :class:`~causalppl.nn.MLPDecoder`, the fused decoder kernel on a GPU).
        channels: the encoder's convolution channels (the decoder mirrors them; ``"conv"``).
        hidden: hidden widths of the encoder's head or MLP (the MLP decoder mirrors them).
        flow_hidden: hidden widths of the attribute flows' networks.
        pixel_scale: the initial pixel noise scale ``sigma`` (one learned number).
        name: the module's Pyro name (unique by default).

    Example:
        >>> import pyro, torch
        >>> import causalppl as cp
        >>> scm = DeepSCM("full", latent_dim=4, network="mlp", hidden=(32,))
        >>> cp.graph(scm).edges
        [('thickness', 'intensity'), ('digit', 'image'), ('thickness', 'image'), ('intensity', 'image'), ('z', 'image')]
        >>> with pyro.plate("unit", 5):
        ...     x = scm()
        >>> tuple(x.shape)
        (5, 1, 28, 28)
        >>> DeepSCM("partial")
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: variant must be one of 'independent', 'conditional', 'full'; got 'partial'
    """

    def __init__(
        self,
        variant: str = "full",
        data: str | ImageData = "morpho_digits",
        *,
        image_size: int | None = None,
        latent_dim: int = 16,
        network: str = "conv",
        channels: Sequence[int] = (32, 64),
        hidden: Sequence[int] = (256,),
        flow_hidden: Sequence[int] = (16,),
        pixel_scale: float = 0.1,
        name: str | None = None,
    ):
        super().__init__(name=name or f"{type(self).__name__}_{next(_NAMES)}")
        self.variant = checks.choice(variant, "variant", VARIANTS)
        if not isinstance(data, ImageData):
            data = DATASETS[checks.choice(data, "data", DATASETS)]
        self.data = data
        size = data.sizes[0] if image_size is None else checks.positive_int(image_size, "image_size")
        if size not in data.sizes:
            raise CausalError(f"image_size must be one of {data.sizes} for this data, got {image_size!r}")
        self.image_shape = (data.channels, size, size)
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.network = checks.choice(network, "network", NETWORKS)
        channels, hidden = checks.int_tuple(channels, "channels"), checks.int_tuple(hidden, "hidden")
        flow_hidden = checks.int_tuple(flow_hidden, "flow_hidden")
        pixel_scale = checks.positive_number(pixel_scale, "pixel_scale")

        # The graph of the attributes: the data's own in the full model, roots otherwise.
        self.parents = {a: (spec.parents if self.variant == "full" else ()) for a, spec in data.attributes.items()}
        # What the image reads besides z: every label and attribute, except in the independent model.
        self.image_parents = () if self.variant == "independent" else (*data.labels, *data.attributes)
        context_dim = sum(data.labels.get(p, 1) for p in self.image_parents)  # a label enters one-hot

        self.label_logits = PyroModule[torch.nn.ParameterDict](
            {label: torch.nn.Parameter(torch.zeros(k)) for label, k in data.labels.items()}
        )
        self.laws = PyroModule[torch.nn.ModuleDict](
            {
                a: nn.attribute_flow(
                    len(self.parents[a]), support=s.support, loc=s.loc, scale=s.scale, hidden=flow_hidden
                )
                for a, s in data.attributes.items()
            }
        )
        self.register_buffer("z_loc", torch.zeros(self.latent_dim))
        if self.network == "conv":
            self.encoder = nn.ConvEncoder(self.image_shape, latent_dim, channels, hidden, context_dim=context_dim)
            self.decoder = nn.ConvDecoder(latent_dim, self.image_shape, channels[::-1], context_dim=context_dim)
        else:
            self.encoder = nn.MLPEncoder(self.image_shape, latent_dim, hidden, context_dim=context_dim)
            self.decoder = nn.MLPDecoder(latent_dim, self.image_shape, hidden[::-1], context_dim=context_dim)
        # Pixel means in (0, 1) from the decoder's sigmoid; one learned noise scale.
        self.likelihood = nn.NormalImageLikelihood(self.image_shape, pixel_scale, learn_scale="shared")

    def forward(self) -> torch.Tensor:
        """Sample one unit (vectorised by the caller's plates); returns the image."""
        values = {}
        for label, logits in self.label_logits.items():
            values[label] = pyro.sample(label, dist.Categorical(logits=logits))
        for a, law in self.laws.items():  # parents come first in the data's order
            values[a] = pyro.sample(a, law([self.standardise(p, values[p]) for p in self.parents[a]]))
        z = pyro.sample("z", dist.Normal(self.z_loc, 1.0).to_event(1))
        law = self.likelihood(self.decoder(z, self.context(values)))
        return pyro.sample("image", law, infer={"event_dims": IMAGE_DIMS})  # names the results' dims

    @pyro_method
    def guide(self, image: torch.Tensor, **observed) -> torch.Tensor:
        """The amortised guide: ``z ~ Normal(encoder(image, parents))`` per unit.

        Args:
            image: ``[n, C, H, W]`` observed images (the leading dim is the unit).
            **observed: the other observed sites ``[n]`` by name (``thickness=t, ...``); the
                ones the variant's encoder reads are required.

        Returns:
            ``z`` ``[n, latent_dim]``, sampled inside ``pyro.plate("unit", n)``.

        Example:
            >>> import pyro, torch
            >>> from causalppl import datasets
            >>> md = datasets.morpho_digits(n=6, seed=0)
            >>> scm = DeepSCM("conditional", latent_dim=3, network="mlp", hidden=(16,))
            >>> tr = pyro.poutine.trace(scm.guide).get_trace(**md.data)
            >>> [n for n, s in tr.nodes.items() if s["type"] == "sample"], tuple(tr.nodes["z"]["value"].shape)
            (['unit', 'z'], (6, 3))
        """
        unknown = sorted(set(observed) - set(self.data.sites))
        if unknown:
            raise CausalError(f"guide got {unknown}, which are not observed sites; it takes {list(self.data.sites)}")
        missing = [p for p in self.image_parents if p not in observed]
        if missing:
            raise CausalError(f"guide needs the observed sites {missing} as keyword arguments ({self.variant} model)")
        # Data may be stored in another precision (float32) than the networks.
        image = checks.float_tensor(image, "image", trailing=self.image_shape, min_dims=4).to(self.z_loc.dtype)
        if bool(((image < 0) | (image > 1)).any()):  # the rendered data and the decoder live in [0, 1]
            raise CausalError(
                f"evidence for site 'image' must lie in [0, 1] (got {float(image.min()):g} to {float(image.max()):g}): "
                "scale 0-255 images by 1/255"
            )
        with pyro.plate("unit", image.shape[-4]):
            return pyro.sample("z", dist.Normal(*self.encoder(image, self.context(observed))).to_event(1))

    def standardise(self, name: str, value) -> torch.Tensor:
        """Attribute ``name`` as the networks read it: in its flow's units, centred and scaled.

        Example:
            >>> import torch
            >>> scm = DeepSCM("full", latent_dim=2, network="mlp", hidden=(8,))
            >>> [round(v, 2) for v in scm.standardise("thickness", torch.tensor([1.0, 4.0])).tolist()]
            [-3.38, 1.95]
        """
        value = torch.as_tensor(value, dtype=self.z_loc.dtype, device=self.z_loc.device)
        law, spec = self.laws[name], self.data.attributes[name]
        y = value if law.output is None else law.output.inv(value)  # e.g. log thickness
        # A value on the support's edge (intensity 1 under an intervention) would be infinite.
        return ((y - spec.loc) / spec.scale).clamp(-FEATURE_BOUND, FEATURE_BOUND)

    def context(self, values: dict) -> torch.Tensor | None:
        """What the encoder and decoder read besides pixels or ``z``: ``[..., context_dim]``.

        Labels enter one-hot, attributes standardised (:meth:`standardise`), leading dims
        broadcast; ``None`` for the independent model.

        Example:
            >>> import torch
            >>> scm = DeepSCM("conditional", latent_dim=2, network="mlp", hidden=(8,))
            >>> values = {"digit": torch.tensor([3, 7]), "thickness": torch.tensor(2.5), "intensity": torch.rand(2)}
            >>> tuple(scm.context(values).shape)  # ten one-hot digits, thickness, intensity
            (2, 12)
        """
        if not self.image_parents:
            return None
        pieces = []
        for p in self.image_parents:
            if p in self.data.labels:
                label = torch.as_tensor(values[p], device=self.z_loc.device).long()
                pieces.append(torch.nn.functional.one_hot(label, self.data.labels[p]).to(self.z_loc.dtype))
            else:
                pieces.append(self.standardise(p, values[p])[..., None])
        lead = torch.broadcast_shapes(*(x.shape[:-1] for x in pieces))
        return torch.cat([x.expand(lead + x.shape[-1:]) for x in pieces], -1)

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}, image_shape={self.image_shape}, latent_dim={self.latent_dim}"
