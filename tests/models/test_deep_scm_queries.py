"""DeepSCM under causalppl's queries: fitting with its guide, amortised counterfactuals."""

import math

import pytest
import torch

import causalppl as cp
from causalppl import datasets
from causalppl.models import DeepSCM

SMALL = {"latent_dim": 3, "network": "mlp", "hidden": (32,), "flow_hidden": (8,)}


@pytest.fixture(scope="module")
def md():
    return datasets.morpho_digits(n=128, seed=0)


def test_fit_trains_model_and_guide_together(md):
    scm = DeepSCM("full", **SMALL)
    encoder = [p.detach().clone() for p in scm.encoder.parameters()]
    history = cp.fit(scm, md.data, guide=scm.guide, steps=20, lr=1e-2, batch_size=64, seed=0, progress=False)
    assert history.train_loss.dims == ("step",)
    losses = history.train_loss.values
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert any(not torch.equal(a, b) for a, b in zip(encoder, scm.encoder.parameters()))


def evidence(md, units=4):
    return {k: v[:units] for k, v in md.data.items()}


@pytest.mark.parametrize("variant", ["independent", "conditional", "full"])
def test_amortized_counterfactual_keeps_the_factual_world(md, variant):
    torch.manual_seed(0)
    scm = DeepSCM(variant, **SMALL)
    ev = evidence(md)
    cf = cp.counterfactual(scm, evidence=ev, do={"thickness": 3.0}, guide=scm.guide, num_samples=1, seed=0)
    assert cf.attrs["abduction"] == "amortized"
    assert cf.image.dims == ("world", "sample", "unit", "channel", "height", "width")
    assert cf.image.shape[1:] == (1, 4, 1, 28, 28)
    x = ev["image"].double()
    factual = torch.as_tensor(cf.image.sel(world="factual").values)[0].double()
    torch.testing.assert_close(factual, x, atol=1e-5, rtol=0)
    assert bool((cf.thickness.sel(world="counterfactual") == 3.0).all())
    changed = torch.as_tensor(cf.image.sel(world="counterfactual").values)[0].double()
    # The independent image ignores the attributes: z and the pixel noise are kept, so nothing moves.
    assert torch.allclose(changed, x, atol=1e-5) == (variant == "independent")


def test_a_null_intervention_reproduces_the_image(md):
    torch.manual_seed(1)
    scm = DeepSCM("full", **SMALL)
    ev = evidence(md)
    cf = cp.counterfactual(scm, evidence=ev, do={"thickness": ev["thickness"]}, guide=scm.guide, num_samples=1, seed=0)
    again = torch.as_tensor(cf.image.sel(world="counterfactual").values)[0].double()
    torch.testing.assert_close(again, ev["image"].double(), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        torch.as_tensor(cf.intensity.sel(world="counterfactual").values)[0].double(),
        ev["intensity"].double(),
        atol=1e-5,
        rtol=0,
    )
