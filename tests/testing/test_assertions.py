"""assert_identifiable and assert_invariant: they pass, and they fail when they should."""

import pytest
import torch

from causalppl.errors import CausalError
from causalppl.testing import assert_identifiable, assert_invariant, orthogonal_group


def test_assert_identifiable_needs_both_floor_and_margin():
    assert assert_identifiable(0.98, 0.7, floor=0.95, margin=0.1) == (0.98, 0.7)
    with pytest.raises(AssertionError, match=r"0\.9300 misses the floor 0\.95 \(null control 0\.7000"):
        assert_identifiable(0.93, 0.7, floor=0.95, margin=0.1)
    # The vacuous case the null control exists for: a high score that the null also reaches.
    with pytest.raises(AssertionError, match=r"fit 0\.9700 does not beat the null control 0\.9000"):
        assert_identifiable(0.97, 0.9, floor=0.95, margin=0.1)


def test_assert_identifiable_for_distances_and_callables():
    assert assert_identifiable(
        lambda: 0.02, lambda: 0.4, floor=0.1, margin=0.2, metric="Amari", higher_is_better=False
    ) == (0.02, 0.4)
    with pytest.raises(AssertionError, match="Amari of the fit 0.3000"):
        assert_identifiable(0.3, 0.4, floor=0.1, margin=0.2, metric="Amari", higher_is_better=False)
    with pytest.raises(CausalError, match="margin"):
        assert_identifiable(1.0, 0.0, floor=0.5, margin=-1)
    with pytest.raises(CausalError, match="null is NaN"):
        assert_identifiable(1.0, float("nan"), floor=0.5, margin=0.1)
    with pytest.raises(CausalError, match="fit must be a number"):
        assert_identifiable("high", 0.0, floor=0.5, margin=0.1)


def _gaussian_ll(x):
    return lambda w: -0.5 * ((x @ w.T) ** 2).sum() + x.shape[0] * torch.linalg.slogdet(w)[1]


def test_assert_invariant_passes_on_a_true_symmetry_and_fails_on_a_false_one():
    x = torch.randn(100, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w = torch.tensor([[1.0, 0.2, 0.0], [0.0, 2.0, 0.5], [0.3, 0.0, 1.0]], dtype=torch.float64)
    worst = assert_invariant(_gaussian_ll(x), w, lambda w, r: r @ w, orthogonal_group(3), rtol=1e-12, atol=0)
    assert worst < 1e-9
    # Rotating the data side instead is no symmetry of this likelihood.
    with pytest.raises(AssertionError, match="log-likelihood changed"):
        assert_invariant(_gaussian_ll(x), w, lambda w, r: w @ r, orthogonal_group(3))


def test_assert_invariant_refuses_a_vacuous_group_action():
    with pytest.raises(AssertionError, match="vacuous"):
        assert_invariant(lambda p: p.sum(), torch.ones(3), lambda p, g: p, orthogonal_group(3))
    with pytest.raises(CausalError, match="num_draws"):
        assert_invariant(lambda p: 0.0, torch.ones(3), lambda p, g: p + 1, orthogonal_group(3), num_draws=0)


def test_assert_invariant_accepts_parameter_collections():
    x = torch.randn(50, 2, dtype=torch.float64)

    def ll(params):
        return _gaussian_ll(x)(params["w"]) + params["b"].sum() * 0

    params = {"w": torch.eye(2, dtype=torch.float64) * 2, "b": torch.zeros(2, dtype=torch.float64)}
    assert_invariant(ll, params, lambda p, r: {"w": r @ p["w"], "b": p["b"]}, orthogonal_group(2))
