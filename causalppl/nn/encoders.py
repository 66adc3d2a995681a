"""Image encoders: pixels (and observed attributes) in, a Normal's ``(loc, scale)`` out.

An amortised guide of a causal generative model reads the observed sites and samples the
latent code, e.g.::

    def guide(image, thickness, intensity):
        with pyro.plate("unit", image.shape[0]):
            pyro.sample("z", dist.Normal(*encoder(image, [thickness, intensity])).to_event(1))

The image goes through a trunk (flattening for :class:`MLPEncoder`, stride-2 convolutions
for :class:`ConvEncoder`); the context is appended to the trunk's features and an MLP head
(run by :func:`causalppl.kernels.decoder_forward`, like the decoders) outputs ``loc`` and a
raw scale, made positive by ``softplus(raw) + 1e-4``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pyro.nn import PyroModule

from causalppl import checks
from causalppl.errors import CausalError
from causalppl.kernels.activations import activation_fn

from ._blocks import (
    CONV_ROW_BLOCK,
    Dense,
    activation_name,
    check_image_shape,
    in_row_blocks,
    inputs,
    loc_and_scale,
    row_block_of,
    unique_name,
)

__all__ = ["ConvEncoder", "MLPEncoder"]


class MLPEncoder(PyroModule):
    """``(loc, scale) = MLP([flatten(image), context])``, each ``[..., latent_dim]``.

    Args:
        image_shape: ``(C, H, W)``.
        latent_dim: width of the latent code.
        hidden: hidden layer widths.
        activation: hidden activation, a name in
            :data:`causalppl.kernels.activations.ACTIVATIONS`.
        context_dim: how many observed values are appended to the pixels (0: none).
        name: the module's Pyro name (unique by default).

    Example:
        >>> import torch
        >>> enc = MLPEncoder((1, 28, 28), 4, hidden=(32,), context_dim=1)
        >>> loc, scale = enc(torch.rand(6, 1, 28, 28), [torch.rand(6)])
        >>> tuple(loc.shape), bool((scale > 0).all())
        ((6, 4), True)
        >>> enc(torch.rand(6, 28, 28), [torch.rand(6)])
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: image must be a float tensor [..., 1, 28, 28], got shape (6, 28, 28)
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        latent_dim: int,
        hidden: Sequence[int] = (256,),
        activation: str = "relu",
        *,
        context_dim: int = 0,
        name: str | None = None,
    ):
        super().__init__(name=name or unique_name(type(self)))
        self.image_shape = check_image_shape(image_shape)
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.context_dim = checks.int_at_least(context_dim, "context_dim", 0)
        hidden = checks.int_tuple(hidden, "hidden")
        c, h, w = self.image_shape
        self.net = Dense((c * h * w + self.context_dim, *hidden, 2 * self.latent_dim), activation_name(activation))

    def forward(self, image: torch.Tensor, context=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loc, scale)`` ``[..., latent_dim]`` for ``image [..., C, H, W]`` (and the context)."""
        image = checks.float_tensor(image, "image", trailing=self.image_shape)
        return loc_and_scale(self.net(inputs(image.flatten(-3), context, self.context_dim)))

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolution's maps ``[rows, ...]`` for images ``[rows, C, H, W]``."""
        act = activation_fn(self.activation)
        for i in range(len(self.channels)):
            x = act(getattr(self, f"down_{i}")(x))
        return x

    def extra_repr(self) -> str:
        return f"image_shape={self.image_shape}, latent_dim={self.latent_dim}, context_dim={self.context_dim}"


class ConvEncoder(PyroModule):
    """Stride-2 convolutions (kernel 4, each halving the size), then an MLP head over the
    flattened maps and the context: ``(loc, scale)``, each ``[..., latent_dim]``.

    Args:
        image_shape: ``(C, H, W)``; ``H`` and ``W`` at least ``2^len(channels)``.
        latent_dim: width of the latent code.
        channels: output channels of each convolution.
        hidden: hidden widths of the head.
        activation: activation after every convolution and hidden layer.
        context_dim: how many observed values are appended to the features (0: none).
        row_block: on a CPU, images per call of the convolutions (``None``: all at once); the
            output is the same (:func:`~causalppl.nn._blocks.in_row_blocks` says why).
        name: the module's Pyro name (unique by default).

    Example:
        >>> import torch
        >>> enc = ConvEncoder((1, 28, 28), 4, channels=(8, 16), hidden=(32,), context_dim=2)
        >>> loc, scale = enc(torch.rand(3, 1, 28, 28), torch.rand(3, 2))
        >>> tuple(loc.shape), tuple(scale.shape)
        ((3, 4), (3, 4))
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        latent_dim: int,
        channels: Sequence[int] = (32, 64),
        hidden: Sequence[int] = (256,),
        activation: str = "relu",
        *,
        context_dim: int = 0,
        row_block: int | None = CONV_ROW_BLOCK,
        name: str | None = None,
    ):
        super().__init__(name=name or unique_name(type(self)))
        self.image_shape = check_image_shape(image_shape)
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.row_block = row_block_of(row_block)
        self.context_dim = checks.int_at_least(context_dim, "context_dim", 0)
        self.channels = checks.int_tuple(channels, "channels")
        hidden = checks.int_tuple(hidden, "hidden")
        self.activation = activation_name(activation)
        c, h, w = self.image_shape
        n = len(self.channels)
        if not n:
            raise CausalError("channels must name at least one layer, got ()")
        if min(h, w) < 2**n:
            raise CausalError(
                f"image_shape {self.image_shape} is too small for {n} stride-2 convolutions "
                f"(len(channels)): height and width must be at least {2**n}"
            )
        for i, (c_in, c_out) in enumerate(zip((c, *self.channels[:-1]), self.channels)):
            setattr(self, f"down_{i}", PyroModule[torch.nn.Conv2d](c_in, c_out, 4, stride=2, padding=1))
        features = self.channels[-1] * (h >> n) * (w >> n)  # each layer maps a size s to s // 2
        self.head = Dense((features + self.context_dim, *hidden, 2 * self.latent_dim), self.activation)

    def forward(self, image: torch.Tensor, context=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loc, scale)`` ``[..., latent_dim]`` for ``image [..., C, H, W]`` (and the context)."""
        image = checks.float_tensor(image, "image", trailing=self.image_shape)
        x = in_row_blocks(self._features, image.reshape((-1, *self.image_shape)), self.row_block)
        features = x.reshape(image.shape[:-3] + (-1,))
        return loc_and_scale(self.head(inputs(features, context, self.context_dim)))

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolution's maps ``[rows, ...]`` for images ``[rows, C, H, W]``."""
        act = activation_fn(self.activation)
        for i in range(len(self.channels)):
            x = act(getattr(self, f"down_{i}")(x))
        return x

    def extra_repr(self) -> str:
        return f"image_shape={self.image_shape}, latent_dim={self.latent_dim}, context_dim={self.context_dim}"
