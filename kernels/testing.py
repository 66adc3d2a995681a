"""Random stacked networks and fp32 tolerances, for the kernel tests and benchmarks.

Pure torch (no hypothesis): tests draw the sizes and a seed, these build the tensors.

Example:
    >>> net = random_mechanism(seed=0, nodes=4, max_parents=2, hidden=(8,), outputs=1)
    >>> net.parent_index.shape, [tuple(w.shape) for w in net.weights], net.scale.shape
    (torch.Size([4, 2]), [(4, 2, 8), (4, 8, 1)], torch.Size([4]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "Mechanism",
    "assert_close_fp32",
    "assert_gradients_close",
    "assert_matches_reference",
    "random_decoder",
    "random_mechanism",
]


@dataclass
class Mechanism:
    """One stacked network in the kernel layout, with a topological order."""

    parent_index: torch.Tensor
    parent_mask: torch.Tensor
    weights: list[torch.Tensor]
    biases: list[torch.Tensor]
    scale: torch.Tensor | None
    order: torch.Tensor

    def args(self) -> tuple:
        """``(parent_index, parent_mask, weights, biases)``."""
        return self.parent_index, self.parent_mask, self.weights, self.biases

    def params(self) -> list[torch.Tensor]:
        """Every differentiable tensor (weights, biases, scale when additive)."""
        return [*self.weights, *self.biases] + ([self.scale] if self.scale is not None else [])


def random_mechanism(
    seed: int,
    nodes: int,
    max_parents: int,
    hidden: tuple[int, ...],
    outputs: int,
    dtype: torch.dtype | None = None,
    density: float = 0.7,
    soft_mask: bool = False,
    weight_scale: float = 1.0,
    device: str | torch.device = "cpu",
) -> Mechanism:
    """A random DAG (random topological order, at most ``max_parents`` distinct parents per
    node, random padding indices) with random MLP weights of fan-in-scaled size.

    ``soft_mask`` draws real-parent mask values in ``[0.5, 1.5]`` instead of 1. With two
    outputs the raw-scale bias is shifted so that scales stay well above the floor.
    """
    dtype = dtype or torch.get_default_dtype()
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(nodes, generator=gen)
    parent_index = torch.randint(0, nodes, (nodes, max_parents), generator=gen)
    parent_mask = torch.zeros(nodes, max_parents, dtype=dtype)
    for pos in range(1, nodes):
        j = int(order[pos])
        earlier = order[:pos][torch.randperm(pos, generator=gen)][:max_parents]
        for p, q in enumerate(earlier.tolist()):
            if torch.rand((), generator=gen) < density:
                parent_index[j, p] = q
                weight = 0.5 + torch.rand((), generator=gen) if soft_mask else 1.0
                parent_mask[j, p] = weight
    widths = [max_parents, *hidden, outputs]
    weights, biases = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        w = torch.randn(nodes, fan_in, fan_out, generator=gen) * weight_scale / fan_in**0.5
        weights.append(w.to(dtype))
        biases.append((0.5 * torch.randn(nodes, fan_out, generator=gen)).to(dtype))
    scale = None
    if outputs == 1:
        scale = (0.3 + 1.5 * torch.rand(nodes, generator=gen)).to(dtype)
    else:
        biases[-1][:, 1] += 0.5
    mech = Mechanism(parent_index, parent_mask, weights, biases, scale, order)
    for name in ("parent_index", "parent_mask", "scale", "order"):
        value = getattr(mech, name)
        if value is not None:
            setattr(mech, name, value.to(device))
    mech.weights = [w.to(device) for w in mech.weights]
    mech.biases = [b.to(device) for b in mech.biases]
    return mech


def random_decoder(
    seed: int, widths: tuple[int, ...], dtype: torch.dtype | None = None, device: str | torch.device = "cpu"
):
    """``(weights, biases)`` of a decoder with layer widths ``widths`` (input first).

    Example:
        >>> w, b = random_decoder(0, (3, 5, 7))
        >>> [tuple(t.shape) for t in w + b]
        [(3, 5), (5, 7), (5,), (7,)]
    """
    dtype = dtype or torch.get_default_dtype()
    gen = torch.Generator().manual_seed(seed)
    weights = [
        (torch.randn(a, b, generator=gen) / a**0.5).to(dtype).to(device) for a, b in zip(widths[:-1], widths[1:])
    ]
    biases = [(0.3 * torch.randn(b, generator=gen)).to(dtype).to(device) for b in widths[1:]]
    return weights, biases


def assert_close_fp32(got: torch.Tensor, want: torch.Tensor, rtol: float = 2e-5, name: str = "tensor") -> None:
    """Assert an fp32 kernel result matches a (float64) reference.

    The tolerance is relative to the reference's largest magnitude (at least 1): fp32
    rounding errors scale with the size of the terms summed, not with each output, so an
    output that cancels to nearly 0 is judged on the scale of its tensor.

    Example:
        >>> assert_close_fp32(torch.tensor([1.0, 1e-9]), torch.tensor([1.0, 0.0]))
    """
    if got.shape != want.shape:
        raise AssertionError(f"{name}: shape {tuple(got.shape)} != {tuple(want.shape)}")
    want = want.to(torch.float64)
    err = (got.to(torch.float64) - want).abs()
    bound = rtol * max(1.0, float(want.abs().max())) if want.numel() else 0.0
    if want.numel() and not bool(torch.isfinite(got).all()):
        raise AssertionError(f"{name}: non-finite values")
    if want.numel() and float(err.max()) > bound:
        raise AssertionError(
            f"{name}: max error {float(err.max()):.3g} > {bound:.3g} (rtol {rtol} of the "
            f"reference's max magnitude {float(want.abs().max()):.3g})"
        )


def assert_gradients_close(
    got: torch.Tensor, want: torch.Tensor, inputs, rtol: float = 5e-5, allow_unused: bool = False
) -> None:
    """Assert the gradients of the scalar ``got`` (a kernel's loss) wrt ``inputs`` match those
    of ``want`` (the reference's), each by :func:`assert_close_fp32`. With ``allow_unused``,
    an input the reference loss does not depend on must get no gradient, or zeros, from the
    kernel too; without it, autograd raises for such an input.

    Example:
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> assert_gradients_close((x * x).sum(), (x ** 2).sum(), [x])
    """
    grads_want = torch.autograd.grad(want, inputs, allow_unused=allow_unused)
    grads_got = torch.autograd.grad(got, inputs, allow_unused=allow_unused)
    for i, (g, w) in enumerate(zip(grads_got, grads_want)):
        if w is None:  # e.g. no output that depends on it was used
            assert g is None or bool((g == 0).all()), f"gradient of input {i}: expected none"
            continue
        assert_close_fp32(g, w, rtol=rtol, name=f"gradient of input {i}")


def assert_matches_reference(got, want, names, inputs, seed: int, used=None) -> None:
    """Assert a kernel's outputs ``got`` match the reference's ``want`` (same dtype and device,
    values by :func:`assert_close_fp32`), then the gradients wrt ``inputs`` of a loss that
    weighs each output named in ``used`` (default: all) by random cotangents drawn from
    ``seed``; with ``used`` given, inputs only unused outputs reach must get no gradient.

    Example:
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> assert_matches_reference([x * x], [x ** 2], ["y"], [x], seed=0)
    """
    for name, g, w in zip(names, got, want):
        assert g.dtype == w.dtype and g.device == w.device, f"{name}: {g.dtype}/{g.device} != {w.dtype}/{w.device}"
        assert_close_fp32(g.detach(), w.detach(), name=name)
    gen = torch.Generator().manual_seed(seed)
    cotangents = [torch.randn(w.shape, generator=gen).to(w.device) for w in want]

    def loss(outputs):
        return sum((o * c).sum() for n, o, c in zip(names, outputs, cotangents) if used is None or n in used)

    assert_gradients_close(loss(got), loss(want), inputs, allow_unused=used is not None)
