"""do / condition as wrappers and context managers, composed with Pyro's own machinery."""

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import pytest
import torch
from pyro.infer import Predictive

import causalppl as cp


def model():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    h = pyro.sample("h", dist.Normal(x, 1.0))
    return pyro.sample("y", dist.Normal(x + h, 0.5))


def test_do_wrapper_and_context_manager_agree():
    torch.manual_seed(0)
    a = poutine.trace(cp.do(model, {"h": 2.0})).get_trace()
    torch.manual_seed(0)
    with cp.do(actions={"h": 2.0}):
        b = poutine.trace(model).get_trace()
    for n in "xhy":
        assert torch.equal(a.nodes[n]["value"], b.nodes[n]["value"])
    assert float(a.nodes["h"]["value"]) == 2.0


def test_do_contributes_no_log_density():
    tr = poutine.trace(cp.do(model, {"h": 2.0})).get_trace()
    tr.compute_log_prob()
    assert float(tr.nodes["h"]["log_prob_sum"]) == 0.0
    assert tr.nodes["h"]["infer"]["do"] == "hard"


def test_shift_intervention_acts_on_natural_value():
    torch.manual_seed(1)
    natural = poutine.trace(model).get_trace()
    torch.manual_seed(1)
    shifted = poutine.trace(cp.do(model, {"h": lambda h: h + 1.0})).get_trace()
    assert torch.allclose(shifted.nodes["h"]["value"], natural.nodes["h"]["value"] + 1.0)


def test_do_with_tensor_inside_plate_and_predictive():
    def plated():
        with pyro.plate("unit", 4):
            return model()

    values = torch.arange(4.0)
    tr = poutine.trace(cp.do(plated, {"h": values})).get_trace()
    assert torch.equal(tr.nodes["h"]["value"], values)
    pred = Predictive(cp.do(plated, {"h": 2.0}), num_samples=50)()
    assert pred["y"].shape == (50, 4) and torch.all(pred["h"] == 2.0)


def test_condition_composes_with_pyro_importance():
    from pyro.infer import EmpiricalMarginal, Importance

    post = Importance(cp.condition(model, {"y": torch.tensor(2.0)}), num_samples=4000).run()
    x = EmpiricalMarginal(post, "x").mean
    # E[x | y=2]: y = 2x + u_h + u_y, Var(y) = 4 + 1 + 0.25.
    assert float(x) == pytest.approx(2 * 2.0 / 5.25, abs=0.1)


def test_condition_and_do_compose():
    tr = poutine.trace(cp.condition(cp.do(model, {"x": 1.0}), {"y": torch.tensor(0.0)})).get_trace()
    assert float(tr.nodes["x"]["value"]) == 1.0 and tr.nodes["y"]["is_observed"]


def test_handlers_have_lowercase_names_and_docs():
    assert cp.do.__name__ == "do" and cp.condition.__name__ == "condition"
    assert "Example" in cp.do.__doc__ and "Example" in cp.twin_world.__doc__
