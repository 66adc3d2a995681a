"""Linear interventional CRL (Squires et al. 2023): recovery with one hard intervention per
latent, and exact non-identifiability when one latent has none."""

import dataclasses

import numpy as np
import pyro.poutine as poutine
import pytest
import torch
from hypothesis import find, given, settings
from hypothesis import strategies as hst
from scipy.stats import multivariate_normal

import causalppl as cp
from causalppl.errors import CausalError
from causalppl.identify import CRLParams, crl_log_likelihood, crl_model, fit_interventional_crl, shear_latent
from causalppl.metrics import mcc, shd
from causalppl.testing import assert_identifiable, orthogonal_group
from causalppl.testing import strategies as st

HEAVY = settings(max_examples=max(3, settings.default.max_examples // 3))


def _truth_graph(ic):
    """The true latent DAG in the fitter's labels: the target of context k is z{k-1}."""
    name = {t: f"z{k}" for k, t in enumerate(ic.targets)}
    return cp.CausalGraph({name[n]: [name[p] for p in ic.latent.graph.parents(n)] for n in ic.latent.graph.nodes})


@HEAVY
@given(ic=st.interventional_contexts(dim=hst.integers(2, 4), obs_dim=hst.integers(4, 6)))
def test_recovers_latents_and_graph(ic):
    xs, zs = ic.sample(3000, seed=1)
    fit = fit_interventional_crl(xs, alpha=1e-4)
    # Null control: observational data alone identify the latents only up to a rotation of
    # the whitened observations; score the average member of that class.
    x0 = xs[0] @ fit.projection.T
    gen = torch.Generator().manual_seed(0)
    null = np.mean([mcc(zs[0], x0 @ orthogonal_group(x0.shape[1])(gen)) for _ in range(20)])
    assert_identifiable(mcc(zs[0], fit.latents(xs[0])), null, floor=0.95, margin=0.03)
    assert shd(_truth_graph(ic), fit.graph) == 0


def test_moment_estimate_and_refinement_agree_and_refinement_raises_the_likelihood():
    ic = find(st.interventional_contexts(dim=3), lambda ic: len(ic.latent.graph.edges) == 2)
    xs, zs = ic.sample(3000, seed=2)
    raw = fit_interventional_crl(xs, refine=False)
    refined = fit_interventional_crl(xs, refine=True)
    assert raw.graph == refined.graph == _truth_graph(ic)
    assert refined.log_likelihood >= raw.log_likelihood - 1e-6
    assert mcc(zs[0], raw.latents(xs[0])) > 0.99 and mcc(zs[0], refined.latents(xs[0])) > 0.99


def test_the_likelihood_is_the_closed_form_gaussian():
    ic = find(st.interventional_contexts(dim=2), lambda ic: True)
    xs, _ = ic.sample(50, seed=0)
    params = CRLParams.from_contexts(ic)
    ref = 0.0
    for k, x in enumerate(xs):
        cov = torch.linalg.inv(params.precision(k)).numpy()
        ref += multivariate_normal(np.zeros(2), cov).logpdf(x.numpy()).sum()
    assert float(crl_log_likelihood(xs, params)) == pytest.approx(ref, rel=1e-10)
    # The generative program samples the latents in causal order and x = H⁻¹ z.
    tr = poutine.trace(crl_model).get_trace(params, 1)
    z = torch.stack([tr.nodes[f"z{i}"]["value"] for i in range(2)])
    torch.testing.assert_close(params.unmixing @ tr.nodes["x"]["value"], z)


def _sink(ic):
    return next(n for n in ic.latent.graph.nodes if not ic.latent.graph.children(n))


@given(ic=st.interventional_contexts(dim=hst.integers(2, 4)), seed=hst.integers(0, 1000))
def test_without_an_intervention_on_one_latent_two_parameterisations_tie_exactly(ic, seed):
    """Drop the intervention on a sink j; shear z_j by another latent: all contexts keep their
    law, so the likelihood ties (to float64 rounding) while the latents differ."""
    sink = _sink(ic)
    k = ic.targets.index(sink)
    missing = dataclasses.replace(
        ic,
        targets=ic.targets[:k] + ic.targets[k + 1 :],
        intervention_scales=ic.intervention_scales[:k] + ic.intervention_scales[k + 1 :],
    )
    xs, zs = missing.sample(500, seed=seed)
    truth = CRLParams.from_contexts(missing)
    j = ic.latent.graph.nodes.index(sink)
    other = (j + 1) % len(ic.latent.graph)
    # Shear by one sd ratio, against their correlation: |corr(z_j, z'_j)| <= 1/√2.
    rho = np.corrcoef(zs[0][:, j], zs[0][:, other])[0, 1]
    amount = -np.sign(rho) * float(zs[0][:, j].std() / zs[0][:, other].std())
    alt = shear_latent(truth, j, other, amount)
    ll_true, ll_alt = float(crl_log_likelihood(xs, truth)), float(crl_log_likelihood(xs, alt))
    assert ll_alt == pytest.approx(ll_true, rel=1e-10, abs=1e-8)
    z_alt = xs[0] @ alt.unmixing.T
    assert mcc(zs[0], z_alt) < 0.99  # a genuinely different representation
    # With the intervention on j present, the same shear is caught by the likelihood.
    xs_full, _ = ic.sample(500, seed=seed)
    full = CRLParams.from_contexts(ic)
    sheared = shear_latent(full, j, other, amount)
    drop = float(crl_log_likelihood(xs_full, full)) - float(crl_log_likelihood(xs_full, sheared))
    assert drop > 50.0


def test_shear_and_fit_bad_input():
    ic = find(st.interventional_contexts(dim=2), lambda ic: len(ic.latent.graph.edges) == 1)
    params = CRLParams.from_contexts(ic)
    child = int(np.flatnonzero(params.weights.abs().sum(0).numpy())[0])
    with pytest.raises(CausalError, match="descendants"):
        shear_latent(params, 1 - child, child, 1.0)
    with pytest.raises(CausalError, match="latent index"):
        shear_latent(params, 5, 0, 1.0)
    xs, _ = ic.sample(100)
    with pytest.raises(CausalError, match="at least one interventional"):
        fit_interventional_crl(xs[:1])
    with pytest.raises(CausalError, match=r"xs\[1\] must be"):
        fit_interventional_crl([xs[0], xs[1][:, :1], xs[2]])
    with pytest.raises(CausalError, match="NaN"):
        fit_interventional_crl([xs[0], xs[1] * float("nan"), xs[2]])
