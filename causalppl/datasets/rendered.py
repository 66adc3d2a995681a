"""Rendered datasets whose every unit keeps its exogenous noise: true counterfactuals.

A :class:`RenderedDataset` is a small structural causal model over named attribute
variables plus an image rendered from them. It keeps each unit's noise, so a
counterfactual is computed, not estimated: the attribute equations are pushed again with
the unit's own noise under the intervention, and the image is re-rendered.

Interventions (``do``) map a variable to a hard value (a number, or a tensor with one
value per selected unit) or to a callable of the variable's natural value (the value it
takes in the counterfactual world before its own intervention: its factual value unless a
cause of it is intervened on too), as with :func:`causalppl.do`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from .. import checks
from ..errors import CausalError
from ..graph import CausalGraph

__all__ = ["RenderedDataset"]


class RenderedDataset:
    """Base of the rendered datasets: ``data``, ``graph``, ``noise``, ``counterfactual``.

    A subclass names its attribute variables in topological order (``variables``), says
    which are integers (``integers``), gives each variable's structural equation
    (``_equation``), its support (``_check_support``), and the renderer (``_render``).

    Attributes:
        data: ``{"image": [n, 1, H, W] float32 in [0, 1], variable: [n]}``.
        noise: every unit's exogenous noise, ``{name: [n, ...]}``.
        graph: the causal graph over the variables and ``"image"``.

    Example:
        >>> from causalppl.datasets import morpho_digits
        >>> md = morpho_digits(n=4, seed=0)
        >>> isinstance(md, RenderedDataset), len(md), sorted(md.data)
        (True, 4, ['digit', 'image', 'intensity', 'thickness'])
    """

    variables: tuple[str, ...] = ()
    integers: frozenset[str] = frozenset()
    graph: CausalGraph

    def __init__(self, noise: Mapping[str, torch.Tensor]):
        self.noise = dict(noise)
        values = self._push(self.noise, {})
        self.data = {"image": self._render(values, self.noise), **values}

    def __len__(self) -> int:
        return int(self.data["image"].shape[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={len(self)}, variables={list(self.variables)})"

    # -- what a subclass provides -------------------------------------------------------------
    def _equation(self, name: str, values: dict[str, torch.Tensor], noise: dict) -> torch.Tensor:
        raise NotImplementedError

    def _check_support(self, name: str, value: torch.Tensor) -> str | None:
        """A description of the support when some of ``value`` lies outside it, else ``None``."""
        raise NotImplementedError

    def _render(self, values: dict[str, torch.Tensor], noise: dict) -> torch.Tensor:
        raise NotImplementedError

    # -- counterfactuals -------------------------------------------------------------------------
    def counterfactual(self, do: Mapping[str, object], index=None) -> dict[str, torch.Tensor]:
        """The true counterfactual of the units ``index`` (default: all) under ``do``.

        Args:
            do: ``{variable: value}``; a value is a number, a tensor of one value per
                selected unit (with ``index``, one per unit of the whole dataset is also
                accepted, and read at ``index``), or a callable of the variable's natural
                value returning either. ``{}`` gives back the factual data exactly.
            index: unit indices (a 1-D integer sequence or tensor), or ``None`` for all.

        Returns:
            The layout of :attr:`data`, for the selected units.

        Raises:
            CausalError: an unknown variable or ``"image"`` in ``do``, a value of the wrong
                length, type or outside the variable's support, or a bad ``index``.

        Example:
            >>> from causalppl.datasets import morpho_digits
            >>> md = morpho_digits(n=8, seed=0)
            >>> cf = md.counterfactual({"thickness": 4.0}, index=[0, 1])
            >>> cf["thickness"].tolist(), bool((cf["digit"] == md.data["digit"][:2]).all())
            ([4.0, 4.0], True)
            >>> md.counterfactual({"image": 0.0})
            Traceback (most recent call last):
            ...
            causalppl.errors.CausalError: do names 'image': ...
        """
        do = checks.mapping(do, "do", keys="variable name")
        self._check_names(do)
        idx = self._index(index)
        noise = {k: v[idx] for k, v in self.noise.items()}
        values = self._push(noise, do, idx if index is not None else None)
        factual = {k: self.data[k][idx] for k in self.variables}
        changed = torch.zeros(len(idx), dtype=torch.bool)
        for k in self.variables:
            changed |= values[k] != factual[k]
        image = self.data["image"][idx]
        if bool(changed.any()):
            rows = changed.nonzero().squeeze(1)
            fresh = self._render({k: v[rows] for k, v in values.items()}, {k: v[rows] for k, v in noise.items()})
            image = image.index_copy(0, rows, fresh)
        return {"image": image, **values}

    def _push(self, noise: dict, do: dict, idx: torch.Tensor | None = None) -> dict:
        values: dict[str, torch.Tensor] = {}
        for name in self.variables:
            natural = self._equation(name, values, noise)
            values[name] = natural if name not in do else self._action(name, do[name], natural, idx)
        return values

    def _check_names(self, do: dict) -> None:
        bad = [k for k in do if k not in self.variables]
        if bad:
            why = " (the image is rendered from the variables, not intervened on)" if "image" in bad else ""
            raise CausalError(
                f"do names {', '.join(repr(b) for b in bad)}: not a variable of {type(self).__name__}{why}; "
                f"the variables are {', '.join(repr(v) for v in self.variables)}"
            )

    def _index(self, index) -> torch.Tensor:
        n = len(self)
        if index is None:
            return torch.arange(n)
        if isinstance(index, (str, bytes, Mapping)) or np.ndim(index) != 1:
            raise CausalError(f"index must be a 1-D sequence of unit indices, got {_describe(index)}")
        idx = torch.as_tensor(np.asarray(index) if not isinstance(index, torch.Tensor) else index)
        if idx.dtype == torch.bool or idx.is_floating_point() or idx.is_complex():
            raise CausalError(f"index must hold integer unit indices, got dtype {idx.dtype}")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
            raise CausalError(f"index must lie in [0, {n}) for this dataset of {n} units, got {_describe(index)}")
        return idx.long()

    def _action(self, name: str, action, natural: torch.Tensor, idx: torch.Tensor | None):
        where, m, n = f"do[{name!r}]", natural.shape[0], len(self)
        value = action(natural.clone()) if callable(action) else action
        if isinstance(value, (str, bytes)) or value is None or isinstance(value, (bool, np.bool_)):
            raise CausalError(f"{where} must be a number or a tensor of numbers, got {_describe(value)}")
        try:
            value = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise CausalError(f"{where} must be a number or a tensor of numbers, got {_describe(value)}") from exc
        if value.dtype == torch.bool or value.is_complex():
            raise CausalError(f"{where} must hold real numbers, got dtype {value.dtype}")
        if name in self.integers and value.is_floating_point():
            raise CausalError(f"{where} must hold integers ({name} is a class label), got dtype {value.dtype}")
        value = value.detach().cpu().to(natural.dtype)
        if value.dim() == 0:
            value = value.expand(m).clone()
        elif value.shape == (m,):
            value = value.clone()
        elif idx is not None and value.shape == (n,):  # one value per unit of the dataset
            value = value[idx]
        else:
            shapes = f"({m},)" if idx is None or m == n else f"({m},) (one per selected unit) or ({n},)"
            raise CausalError(f"{where} must be a number or have shape {shapes}, got shape {tuple(value.shape)}")
        problem = self._check_support(name, value)
        if problem is not None:
            raise CausalError(f"{where} is outside the support of {name!r}: {problem}")
        return value


def _describe(value) -> str:
    text = repr(value)
    return f"{type(value).__name__}: {text if len(text) <= 60 else text[:57] + '...'}"
