"""iVAE: the Pyro model and guide, and (slow tier) identifiability against two null controls."""

import numpy as np
import pyro.poutine as poutine
import pytest
import torch
from hypothesis import find

from causalppl.errors import CausalError
from causalppl.identify import IVAE, fit_ivae
from causalppl.metrics import mcc
from causalppl.testing import assert_identifiable
from causalppl.testing import strategies as st
from causalppl.testing.latent_models import SegmentLatentModel

SLOW_SEEDS = [0, 1, 2, 3, 4, 5]


def test_model_and_guide_agree_on_sites_and_shapes():
    m = IVAE(3, 2, n_segments=4, hidden=8)
    x, u = torch.randn(7, 3), torch.tensor([0, 1, 2, 3, 0, 1, 2])
    model_tr = poutine.trace(m.model).get_trace(x, u)
    guide_tr = poutine.trace(m.guide).get_trace(x, u)
    assert model_tr.nodes["z"]["fn"].event_shape == guide_tr.nodes["z"]["fn"].event_shape == (2,)
    assert model_tr.nodes["x"]["is_observed"]
    # The conditional prior really depends on u: different segments, different variances.
    with torch.no_grad():
        m.prior_logvar[1] += 1.0
    assert not torch.allclose(m._prior(torch.tensor([0])).variance, m._prior(torch.tensor([1])).variance)
    vae = IVAE(3, 2, n_segments=4, hidden=8, auxiliary=False)
    torch.testing.assert_close(vae._prior(u).variance, torch.ones(7, 2))


def test_a_short_fit_lowers_the_loss_and_restores_the_global_rng():
    model = find(st.segment_latent_models(dim=2, n_segments=3), lambda m: True)
    x, z, u = model.sample(100, seed=0)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    fit = fit_ivae(x, u, steps=150, hidden=8, seed=0)
    assert torch.equal(torch.rand(1), before)  # fitting did not consume the caller's RNG
    assert np.mean(fit.losses[-20:]) < np.mean(fit.losses[:20])
    assert fit.model.latents(x, u).shape == z.shape


def test_fit_ivae_bad_input():
    with pytest.raises(CausalError, match="u \\[n\\]"):
        fit_ivae(torch.zeros(5, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(CausalError, match="NaN"):
        fit_ivae(torch.full((5, 2), float("nan")), torch.zeros(5, dtype=torch.long))
    with pytest.raises(CausalError, match="non-negative"):
        fit_ivae(torch.zeros(5, 2), -torch.ones(5, dtype=torch.long))


def test_fit_ivae_leaves_the_callers_param_store_alone():
    import pyro

    pyro.param("mine", torch.tensor(3.0))
    model = find(st.segment_latent_models(dim=2, n_segments=3), lambda m: True)
    x, _, u = model.sample(50, seed=0)
    fit_ivae(x, u, steps=5, hidden=4)
    assert list(pyro.get_param_store().keys()) == ["mine"]


@pytest.mark.slow
def test_ivae_beats_raw_observations_and_a_plain_vae():
    """Khemakhem et al. (2020), Thm 1: the conditional prior makes the latents identifiable;
    the same architecture without u (a VAE) and the raw observations are the null controls.

    The theorem speaks of the optimum; SVI at this budget reaches a clearly better solution
    than both nulls in most instances, not all (measured: 5 of these 6; one stalls below
    its raw observations). At d = 3 the plain VAE is a strong null (segment mixtures make
    each latent's marginal non-Gaussian, which its factorised posterior partly exploits),
    hence the modest margin. Every instance's numbers are in the failure message.
    """
    results, passed = [], 0
    for seed in SLOW_SEEDS:
        model = SegmentLatentModel.random(3, 40, seed)
        x, z, u = model.sample(500, seed=0)
        ivae = fit_ivae(x, u, steps=3000, seed=0)
        vae = fit_ivae(x, u, steps=3000, seed=0, auxiliary=False)
        score, raw, plain = mcc(z, ivae.model.latents(x, u)), mcc(z, x), mcc(z, vae.model.latents(x, u))
        try:
            assert_identifiable(score, max(raw, plain), floor=0.85, margin=0.03)
            passed += 1
        except AssertionError as err:
            results.append(f"seed {seed}: {err}")
        results.append(f"seed {seed}: iVAE {score:.3f}, VAE {plain:.3f}, raw {raw:.3f}")
    assert passed >= len(SLOW_SEEDS) - 2, "\n".join(results)
