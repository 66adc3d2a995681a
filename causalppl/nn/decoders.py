"""Image decoders: a latent code ``z`` (and parent values) in, pixels ``[..., C, H, W]`` out.

Both decoders are :class:`~pyro.nn.PyroModule`\\ s: called inside a Pyro program their
parameters live in Pyro's param store, so ``cp.fit`` and ``pyro.infer.SVI`` train them. A
decoder conditioned on parent values (``context_dim > 0``) takes them as a tensor
``[..., context_dim]`` or as a list of per-parent values, appended to ``z``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pyro.nn import PyroModule

from causalppl import checks
from causalppl.errors import CausalError
from causalppl.kernels.activations import OUT_ACTIVATIONS, activation_fn

from ._blocks import (
    CONV_ROW_BLOCK,
    Dense,
    activation_name,
    check_image_shape,
    in_row_blocks,
    inputs,
    row_block_of,
    unique_name,
)

__all__ = ["ConvDecoder", "MLPDecoder"]


class MLPDecoder(PyroModule):
    """``pixels = out_activation(MLP([z, context]))``, reshaped to ``[..., C, H, W]``.

    The forward runs through :func:`causalppl.kernels.decoder_forward`, so it is the fused
    Triton kernel on a GPU (backend ``triton``) and the torch reference elsewhere
    (``CAUSALPPL_KERNELS`` / :func:`causalppl.kernels.use_backend`); the weights are stored
    in the kernel's ``[in, out]`` layout (``decoder.net.weights()``), so no call transposes.

    Args:
        latent_dim: width of ``z``.
        image_shape: ``(C, H, W)``.
        hidden: hidden layer widths.
        activation: hidden activation, a name in
            :data:`causalppl.kernels.activations.ACTIVATIONS`.
        out_activation: ``"sigmoid"`` (pixel means in ``(0, 1)``), ``"tanh"`` or ``None``
            (unconstrained: logits of :class:`~causalppl.nn.BernoulliImage`, locations of
            :class:`~causalppl.nn.DiscretizedLogistic`).
        context_dim: how many parent values are appended to ``z`` (0: none).
        name: the module's Pyro name (unique by default).

    Example:
        >>> import torch
        >>> dec = MLPDecoder(4, (1, 28, 28), hidden=(32,), context_dim=2)
        >>> z, thickness, intensity = torch.randn(5, 4), torch.rand(5), torch.rand(5)
        >>> tuple(dec(z, [thickness, intensity]).shape)
        (5, 1, 28, 28)
        >>> dec(z, torch.rand(5, 3))
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: context must be a float tensor [..., 2], got shape (5, 3)
    """

    def __init__(
        self,
        latent_dim: int,
        image_shape: Sequence[int],
        hidden: Sequence[int] = (256, 256),
        activation: str = "relu",
        out_activation: str | None = "sigmoid",
        *,
        context_dim: int = 0,
        name: str | None = None,
    ):
        super().__init__(name=name or unique_name(type(self)))
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.image_shape = check_image_shape(image_shape)
        self.context_dim = checks.int_at_least(context_dim, "context_dim", 0)
        hidden = checks.int_tuple(hidden, "hidden")
        activation = activation_name(activation)
        out_activation = activation_name(out_activation, "out_activation", out=True)
        pixels = self.image_shape[0] * self.image_shape[1] * self.image_shape[2]
        self.net = Dense((self.latent_dim + self.context_dim, *hidden, pixels), activation, out_activation)

    def forward(self, z: torch.Tensor, context=None) -> torch.Tensor:
        """Pixels ``[..., C, H, W]`` for ``z [..., latent_dim]`` (and ``context [..., context_dim]``)."""
        z = checks.float_tensor(z, "z", trailing=(self.latent_dim,))
        h = inputs(z, context, self.context_dim)
        return self.net(h).reshape(h.shape[:-1] + self.image_shape)

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, image_shape={self.image_shape}, context_dim={self.context_dim}"


class ConvDecoder(PyroModule):
    """A linear stem to ``channels[0]`` maps of ``H / 2^n x W / 2^n``, then ``n = len(channels)``
    stride-2 transposed convolutions (kernel 4), each doubling the size, the last one to ``C``.

    Args:
        latent_dim: width of ``z``.
        image_shape: ``(C, H, W)``; ``H`` and ``W`` must be divisible by ``2^n``
            (28 px: two layers, 64 px: up to six).
        channels: input channels of each transposed convolution.
        activation: hidden activation (after the stem and every layer but the last).
        out_activation: ``"sigmoid"``, ``"tanh"`` or ``None`` after the last layer.
        context_dim: how many parent values are appended to ``z`` (0: none).
        row_block: on a CPU, images per call of the layers (``None``: all at once); the
            output is the same (:func:`~causalppl.nn._blocks.in_row_blocks` says why).
        name: the module's Pyro name (unique by default).

    Example:
        >>> import torch
        >>> dec = ConvDecoder(4, (3, 32, 32), channels=(16, 8, 8))
        >>> tuple(dec(torch.randn(2, 5, 4)).shape)
        (2, 5, 3, 32, 32)
    """

    def __init__(
        self,
        latent_dim: int,
        image_shape: Sequence[int],
        channels: Sequence[int] = (64, 32),
        activation: str = "relu",
        out_activation: str | None = "sigmoid",
        *,
        context_dim: int = 0,
        row_block: int | None = CONV_ROW_BLOCK,
        name: str | None = None,
    ):
        super().__init__(name=name or unique_name(type(self)))
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.image_shape = check_image_shape(image_shape)
        self.row_block = row_block_of(row_block)
        self.context_dim = checks.int_at_least(context_dim, "context_dim", 0)
        self.channels = checks.int_tuple(channels, "channels")
        if not self.channels:
            raise CausalError("channels must name at least one layer, got ()")
        c, h, w = self.image_shape
        factor = 2 ** len(self.channels)
        if h % factor or w % factor:
            raise CausalError(
                f"image_shape {self.image_shape}: height and width must be divisible by "
                f"2^{len(self.channels)} = {factor} for {len(self.channels)} upsampling layers "
                "(len(channels)); use fewer layers"
            )
        self.start = (self.channels[0], h // factor, w // factor)
        self.activation = activation_name(activation)
        self.out_activation = activation_name(out_activation, "out_activation", out=True)
        self.stem = Dense(
            (self.latent_dim + self.context_dim, self.start[0] * self.start[1] * self.start[2]), self.activation
        )
        outs = (*self.channels[1:], c)
        for i, (c_in, c_out) in enumerate(zip(self.channels, outs)):
            setattr(self, f"up_{i}", PyroModule[torch.nn.ConvTranspose2d](c_in, c_out, 4, stride=2, padding=1))

    def forward(self, z: torch.Tensor, context=None) -> torch.Tensor:
        """Pixels ``[..., C, H, W]`` for ``z [..., latent_dim]`` (and ``context [..., context_dim]``)."""
        z = checks.float_tensor(z, "z", trailing=(self.latent_dim,))
        h = inputs(z, context, self.context_dim)
        x = in_row_blocks(self._pixels, h.reshape(-1, h.shape[-1]), self.row_block)
        return x.reshape(h.shape[:-1] + self.image_shape)

    def _pixels(self, h: torch.Tensor) -> torch.Tensor:
        """``[rows, C, H, W]`` for the inputs ``[rows, latent_dim + context_dim]``."""
        act = activation_fn(self.activation)
        x = act(self.stem(h)).reshape((-1, *self.start))
        last = len(self.channels) - 1
        for i in range(len(self.channels)):
            x = getattr(self, f"up_{i}")(x)
            x = act(x) if i < last else x
        return x if self.out_activation is None else OUT_ACTIVATIONS[self.out_activation](x)

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, image_shape={self.image_shape}, context_dim={self.context_dim}"
