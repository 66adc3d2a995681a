"""A site names its event dims (``infer={"event_dims": ...}``) and every query labels them so;
a declaration that cannot label the site is refused, naming the site."""

import pyro
import pyro.distributions as dist
import pytest
import torch

import causalppl as cp


def model(dims=("item",), other=None):
    x = pyro.sample("x", dist.Normal(torch.zeros(3), 1.0).to_event(1), infer={"event_dims": dims})
    if other is not None:
        pyro.sample("w", dist.Normal(torch.zeros(2), 1.0).to_event(1), infer={"event_dims": other})
    return pyro.sample("y", dist.Normal(x.sum(-1), 1.0))


def test_every_query_labels_the_declared_event_dims():
    ds = cp.sample(model, 5, seed=0)
    assert ds.x.dims == ("sample", "item") and ds.y.dims == ("sample",)
    ev = {"x": torch.ones(2, 3), "y": torch.zeros(2)}
    cf = cp.counterfactual(model, ev, {"x": torch.zeros(3)}, seed=0)
    assert cf.x.dims == ("world", "sample", "unit", "item")
    assert cp.sample(model, 5, seed=0, model_kwargs={"dims": None}).x.dims == ("sample", "x_dim_0")


@pytest.mark.parametrize(
    "dims, why",
    [
        ("item", "one per event dim"),  # a string is not a tuple of names
        (("a", "b"), "give 1 distinct names"),
        (("unit",), "other than the queries' own"),
        ((3,), "distinct names"),
    ],
)
def test_a_declaration_that_cannot_label_the_site_is_refused(dims, why):
    with pytest.raises(cp.CausalError, match=f"site 'x' declares event_dims=.*{why}"):
        cp.sample(model, 5, seed=0, model_kwargs={"dims": dims})


def test_two_sites_naming_one_dim_with_different_sizes_are_refused():
    with pytest.raises(cp.CausalError, match="sites 'x' and 'w' both have a dim named 'item', of sizes 3 and 2"):
        cp.sample(model, 5, seed=0, model_kwargs={"other": ("item",)})
    ds = cp.sample(model, 5, seed=0, model_kwargs={"other": ("pair",)})
    assert ds.w.dims == ("sample", "pair")


def test_event_dims_named_like_a_plate_of_the_site_are_refused():
    def plated():
        with pyro.plate("item", 2):
            return pyro.sample("x", dist.Normal(torch.zeros(3), 1.0).to_event(1), infer={"event_dims": ("item",)})

    with pytest.raises(cp.CausalError, match="site 'x' would have the dims \\('sample', 'item', 'item'\\)"):
        cp.sample(plated, 5, seed=0)
