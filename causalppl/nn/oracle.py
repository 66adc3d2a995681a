"""Pseudo-oracles: attributes read back from images by networks trained on the data.

Effectiveness asks whether an intervention took: the attribute of a counterfactual image,
read back, against the value intervened on. Rendered data sets come with a measurement
(``md.measure``); for any other data, Pawlowski et al. (2020) and Monteiro et al. (2023)
train a regressor per continuous attribute and a classifier per label on the observed images
and read the counterfactual ones with it. :func:`pseudo_oracle` trains one such network (an
encoder of the package with one output per continuous attribute and one logit per class) and
reports its own error on held-out factual images, the floor below which no effectiveness
figure read through it means anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from causalppl import checks
from causalppl.errors import CausalError
from causalppl.rng import seeded

from .encoders import ConvEncoder, MLPEncoder

__all__ = ["PseudoOracle", "pseudo_oracle"]


class PseudoOracle(torch.nn.Module):
    """A trained reader of attributes: ``oracle(images) -> {attribute: [n]}``, like ``measure``.

    Continuous attributes come back in their own units, labels as class indices (int64).
    ``heldout_error`` holds the oracle's error on held-out factual images: mean absolute
    error in training sd for a continuous attribute, the error rate for a label.
    """

    def __init__(self, network, continuous: Mapping[str, tuple[float, float]], labels: Mapping[str, int]):
        super().__init__()
        self.network = network
        self.continuous = dict(continuous)  # name -> (mean, sd) of the training values
        self.labels = dict(labels)  # name -> number of classes
        self.heldout_error: dict[str, float] = {}

    def outputs(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Standardised predictions of the continuous attributes and logits of the labels."""
        images = checks.float_tensor(images, "images", trailing=self.network.image_shape, min_dims=4)
        loc, _ = self.network(images.to(next(self.network.parameters()).dtype))
        out, at = {}, 0
        for name in self.continuous:
            out[name], at = loc[..., at], at + 1
        for name, k in self.labels.items():
            out[name], at = loc[..., at : at + k], at + k
        return out

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.outputs(images)
        read = {n: out[n] * sd + mean for n, (mean, sd) in self.continuous.items()}
        read.update({n: out[n].argmax(-1) for n in self.labels})
        return read

    def loss(self, images: torch.Tensor, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Squared error of each standardised attribute plus each label's cross-entropy, per image."""
        out = self.outputs(images)
        terms = [(out[n] - (values[n] - m) / s).square() for n, (m, s) in self.continuous.items()]
        terms += [torch.nn.functional.cross_entropy(out[n], values[n].long(), reduction="none") for n in self.labels]
        return torch.stack(terms).sum(0).mean()


def pseudo_oracle(
    data: Mapping[str, torch.Tensor],
    attributes: Sequence[str],
    *,
    network: str = "conv",
    channels: Sequence[int] = (32, 64),
    hidden: Sequence[int] = (128,),
    steps: int = 2000,
    lr: float = 1e-3,
    batch_size: int = 128,
    holdout: float = 0.1,
    seed: int | None = None,
) -> PseudoOracle:
    """Train a pseudo-oracle for ``attributes`` on ``data`` (``{"image": [n, C, H, W], ...}``).

    An attribute with an integer dtype is a label (a classifier over ``0 .. max``); a
    floating one is regressed in training sd. The last ``holdout`` share of the units is
    kept out of training and scored (``oracle.heldout_error``).

    Args:
        data: a data dict: ``"image"`` and every attribute, ``[n]`` each.
        attributes: which to read back.
        network: ``"conv"`` (:class:`ConvEncoder`) or ``"mlp"`` (:class:`MLPEncoder`).
        channels, hidden: the network's sizes (``channels`` for ``"conv"`` only).
        steps, lr, batch_size: Adam on minibatches of units.
        holdout: share of units held out, in ``(0, 1)``.
        seed: seeds the initialisation and the minibatches (``None``: fresh randomness).

    Example:
        >>> from causalppl import datasets, nn
        >>> md = datasets.morpho_digits(n=200, seed=0)
        >>> oracle = nn.pseudo_oracle(md.data, ["thickness", "digit"], network="mlp", steps=20, seed=0)
        >>> read = oracle(md.data["image"][:3])
        >>> read["thickness"].shape, read["digit"].dtype, sorted(oracle.heldout_error)
        (torch.Size([3]), torch.int64, ['digit', 'thickness'])
    """
    data = checks.mapping(data, "data", keys="column name")
    attributes = checks.names(attributes, "attributes")
    if "image" not in data:
        raise CausalError(f"data must hold 'image'; it holds {sorted(data)}")
    images = checks.float_tensor(data["image"], "data['image']", min_dims=4, finite=True)
    if images.dim() != 4:
        raise CausalError(f"data['image'] must be [n, C, H, W], got shape {tuple(images.shape)}")
    n = images.shape[0]
    columns = _columns(data, attributes, n)
    network = checks.choice(network, "network", ("conv", "mlp"))
    steps, batch_size = checks.positive_int(steps, "steps"), checks.positive_int(batch_size, "batch_size")
    lr = checks.positive_number(lr, "lr")
    n_test = round(checks.open_fraction(holdout, "holdout") * n)
    if n_test < 1 or n - n_test < 2:
        raise CausalError(f"holdout={holdout} leaves {n - n_test} training and {n_test} held-out units of {n}")
    train = slice(0, n - n_test)
    continuous, labels = {}, {}
    for name, v in columns.items():
        if v.is_floating_point():
            sd = float(v[train].double().std())
            if not sd > 0:
                raise CausalError(f"attribute {name!r} is constant on the training units: nothing to read")
            continuous[name] = (float(v[train].double().mean()), sd)
        else:
            labels[name] = int(v.max()) + 1
    width = len(continuous) + sum(labels.values())
    with seeded(seed):
        shape = tuple(images.shape[1:])
        if network == "conv":
            net = ConvEncoder(shape, width, channels=channels, hidden=hidden)
        else:
            net = MLPEncoder(shape, width, hidden=hidden)
        oracle = PseudoOracle(net, continuous, labels)
        _train(oracle, images[train], {k: v[train] for k, v in columns.items()}, steps, lr, batch_size)
    held = slice(n - n_test, n)
    read = oracle(images[held])
    for name, v in columns.items():
        truth = v[held]
        if name in labels:
            oracle.heldout_error[name] = float((read[name] != truth.long()).double().mean())
        else:
            oracle.heldout_error[name] = float((read[name] - truth).abs().double().mean()) / continuous[name][1]
    return oracle


def _columns(data: dict, attributes: list[str], n: int) -> dict[str, torch.Tensor]:
    out = {}
    for name in attributes:
        if name not in data:
            raise CausalError(f"attribute {name!r} is not in data; it holds {sorted(data)}")
        v = data[name]
        if not isinstance(v, torch.Tensor) or v.shape != (n,) or v.dtype == torch.bool or v.is_complex():
            got = f"shape {tuple(v.shape)}, dtype {v.dtype}" if isinstance(v, torch.Tensor) else type(v).__name__
            raise CausalError(f"data[{name!r}] must be a real or integer tensor [{n}] (one per image), got {got}")
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise CausalError(f"data[{name!r}] contains NaN or inf")
        if not v.is_floating_point() and bool((v < 0).any()):
            raise CausalError(f"data[{name!r}] is a label: its classes must be 0, 1, ..., got {int(v.min())}")
        out[name] = v
    return out


def _train(oracle: PseudoOracle, images, columns, steps: int, lr: float, batch_size: int) -> None:
    optimiser = torch.optim.Adam(oracle.parameters(), lr=lr)
    n = images.shape[0]
    for step in range(steps):
        rows = torch.randint(n, (min(batch_size, n),))
        loss = oracle.loss(images[rows], {k: v[rows] for k, v in columns.items()})
        if not torch.isfinite(loss):
            raise CausalError(f"the pseudo-oracle's loss is {float(loss)} at step {step}: lower lr (now {lr})")
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
