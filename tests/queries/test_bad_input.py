"""Bad input: each case is a CausalError (a ValueError) whose message names the culprit."""

import pyro
import pyro.distributions as dist
import pytest
import torch

import causalppl as cp
from causalppl.errors import (
    CyclicGraphError,
    DuplicateSiteError,
    EvidenceError,
    NonInvertibleError,
    UnknownSiteError,
    UnsupportedDistributionError,
)


def model():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    return pyro.sample("y", dist.Normal(x, 1.0))


def test_every_error_is_a_value_error():
    for e in (
        CyclicGraphError,
        DuplicateSiteError,
        EvidenceError,
        NonInvertibleError,
        UnknownSiteError,
        UnsupportedDistributionError,
    ):
        assert issubclass(e, cp.CausalError) and issubclass(e, ValueError)


@pytest.mark.parametrize(
    "call",
    [
        lambda: cp.do(model, {"z": 1.0})(),
        lambda: cp.condition(model, {"z": torch.tensor(1.0)})(),
        lambda: cp.sample(model, 3, do={"z": 1.0}),
        lambda: cp.counterfactual(model, evidence={"z": 1.0}, do={"x": 0.0}),
        lambda: cp.counterfactual(model, evidence={"x": 1.0}, do={"z": 0.0}),
        lambda: cp.effect(model, "z", do={"x": 1.0}),
        lambda: cp.effect(model, "y", do={"z": 1.0}),
    ],
)
def test_misspelled_site_names_the_site_and_lists_existing(call):
    with pytest.raises(cp.CausalError, match=r"'z'.*'x', 'y'"):
        call()


def test_misspelled_site_in_context_manager():
    with pytest.raises(UnknownSiteError, match="'h'"):
        with cp.do(actions={"h": 1.0}):
            model()


def test_site_sampled_twice():
    def twice():
        pyro.sample("x", dist.Normal(0.0, 1.0))
        pyro.sample("x", dist.Normal(0.0, 1.0))

    with pytest.raises(DuplicateSiteError, match="'x'"):
        cp.graph(twice)
    with pytest.raises(DuplicateSiteError, match="'x'"):
        cp.sample(twice, 3)


def test_cyclic_graph_spec_names_the_cycle():
    with pytest.raises(CyclicGraphError, match="a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c"):
        cp.CausalGraph({"a": ["c"], "b": ["a"], "c": ["b"], "d": []})
    with pytest.raises(cp.CausalError, match="'q'.*'b'"):
        cp.CausalGraph({"a": [], "b": ["q"]})


@pytest.mark.parametrize(
    "evidence, pattern",
    [
        ({"x": torch.ones(3), "y": torch.ones(4)}, "number of units"),
        ({"x": torch.ones(2, 2)}, "'x'.*shape"),
        ({"x": float("nan")}, "'x'.*NaN"),
        ({"y": torch.tensor([0.0, float("inf")])}, "'y'.*NaN or inf"),
        ({"x": "abc"}, "'x'"),
    ],
)
def test_bad_evidence(evidence, pattern):
    with pytest.raises(EvidenceError, match=pattern):
        cp.counterfactual(model, evidence=evidence, do={"x": 0.0}, num_samples=2)


def test_vector_site_evidence_with_wrong_event_shape():
    def vec():
        return pyro.sample("v", dist.Normal(torch.zeros(3), 1.0).to_event(1))

    with pytest.raises(EvidenceError, match="'v'.*event shape"):
        cp.counterfactual(vec, evidence={"v": torch.zeros(2)}, do={}, num_samples=2)
    with pytest.raises(cp.CausalError, match="'v'"):
        cp.sample(vec, 2, do={"v": torch.zeros(2)})


def test_exact_abduction_through_non_invertible_site():
    def folded():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        return pyro.sample("y", dist.FoldedDistribution(dist.Normal(x, 1.0)))

    with pytest.raises(NonInvertibleError, match="'y'.*non-invertible"):
        cp.counterfactual(folded, evidence={"x": 0.0, "y": 1.0}, do={"x": 1.0}, abduction="exact")
    # Without evidence on y it is fine: y's noise is drawn, not recovered.
    cf = cp.counterfactual(folded, evidence={"x": 0.0}, do={"x": 1.0}, num_samples=3)
    assert cf.attrs["abduction"] == "exact"


def test_exact_abduction_demanded_with_latent_ancestors():
    with pytest.raises(NonInvertibleError, match=r"\['x'\].*importance"):
        cp.counterfactual(model, evidence={"y": 1.0}, do={"x": 0.0}, abduction="exact")


def test_unsupported_discrete_distribution_names_site():
    def counts():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        return pyro.sample("k", dist.Poisson(x.exp()))

    with pytest.raises(UnsupportedDistributionError, match="'k'.*Poisson"):
        cp.counterfactual(counts, evidence={"x": 0.0, "k": 2.0}, do={"x": 1.0})


def test_inconsistent_deterministic_evidence():
    def det():
        x = pyro.sample("x", dist.Normal(0.0, 1.0))
        return pyro.deterministic("d", 2 * x)

    with pytest.raises(EvidenceError, match="'d'"):
        cp.counterfactual(det, evidence={"x": 1.0, "d": 5.0}, do={"x": 0.0})
    cf = cp.counterfactual(det, evidence={"x": 1.0, "d": 2.0}, do={"x": 0.0}, num_samples=2)
    assert cf.d.sel(world="counterfactual").values.tolist() == [0.0, 0.0]


def test_bad_arguments():
    with pytest.raises(cp.CausalError, match="abduction"):
        cp.counterfactual(model, evidence={"x": 1.0}, do={}, abduction="magic")
    with pytest.raises(cp.CausalError, match="num_samples"):
        cp.sample(model, 0)
    with pytest.raises(cp.CausalError, match="actions"):
        cp.do(model, [("x", 1.0)])
