"""DeepSCM: a one-unit Pyro program with a latent style code and an amortised guide."""

import time

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam

import causalppl as cp
from causalppl import datasets
from causalppl.errors import CausalError
from causalppl.models import Attribute, DeepSCM, ImageData
from causalppl.nn import NormalImage
from causalppl.noise import noise_model

VARIANTS = ["independent", "conditional", "full"]
SMALL = {"latent_dim": 3, "network": "mlp", "hidden": (16,), "flow_hidden": (8,)}
DIGIT_SITES = ["digit", "thickness", "intensity", "z", "image"]
EDGES = {
    "independent": [("z", "image")],
    "conditional": [("digit", "image"), ("thickness", "image"), ("intensity", "image"), ("z", "image")],
    "full": [
        ("thickness", "intensity"),
        ("digit", "image"),
        ("thickness", "image"),
        ("intensity", "image"),
        ("z", "image"),
    ],
}


def sample_sites(trace):
    return [n for n, s in trace.nodes.items() if s["type"] == "sample" and s["infer"].get("_cp_internal") is None]


@pytest.mark.parametrize("network", ["mlp", "conv"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_one_unit_has_the_sites_of_morpho_digits_and_z(variant, network):
    torch.manual_seed(0)
    scm = DeepSCM(variant, **{**SMALL, "network": network, "channels": (4, 8)})
    tr = pyro.poutine.trace(scm).get_trace()
    assert sample_sites(tr) == DIGIT_SITES
    shapes = {n: tuple(tr.nodes[n]["value"].shape) for n in DIGIT_SITES}
    assert shapes == {"digit": (), "thickness": (), "intensity": (), "z": (3,), "image": (1, 28, 28)}
    z = tr.nodes["z"]["fn"]
    assert isinstance(z, dist.Independent) and isinstance(z.base_dist, dist.Normal)
    assert float(z.base_dist.loc.abs().max()) == 0.0 and float((z.base_dist.scale - 1).abs().max()) == 0.0
    assert isinstance(tr.nodes["image"]["fn"], NormalImage)
    assert tr.nodes["digit"]["value"].dtype == torch.int64
    assert bool(tr.nodes["thickness"]["value"] > 0) and 0 < float(tr.nodes["intensity"]["value"].detach()) < 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_vectorises_over_units_and_extra_leading_plates(variant):
    torch.manual_seed(1)
    scm = DeepSCM(variant, **SMALL)
    with pyro.plate("unit", 5):
        tr = pyro.poutine.trace(scm).get_trace()
    assert tuple(tr.nodes["image"]["value"].shape) == (5, 1, 28, 28)
    assert tuple(tr.nodes["z"]["value"].shape) == (5, 3)
    # Queries run the model inside plates of worlds (dim -3) and samples (dim -2).
    with pyro.plate("world", 2, dim=-3), pyro.plate("sample", 4, dim=-2), pyro.plate("unit", 5, dim=-1):
        tr = pyro.poutine.trace(scm).get_trace()
    tr.compute_log_prob()
    for name in DIGIT_SITES:
        assert tuple(tr.nodes[name]["log_prob"].shape) == (2, 4, 5), name
    assert tuple(tr.nodes["image"]["value"].shape) == (2, 4, 5, 1, 28, 28)


def test_conditioned_values_may_arrive_with_leading_dims():
    torch.manual_seed(2)
    scm = DeepSCM("full", **SMALL)
    md = datasets.morpho_digits(n=5, seed=0)
    t = md.data["thickness"].double() * torch.tensor([[[1.0]], [[1.5]]])  # [2, 1, 5]: a value per world
    obs = {"thickness": t, "digit": md.data["digit"], "image": md.data["image"].double()}
    with pyro.plate("world", 2, dim=-3), pyro.plate("sample", 4, dim=-2), pyro.plate("unit", 5, dim=-1):
        tr = pyro.poutine.trace(cp.condition(scm, obs)).get_trace()
    tr.compute_log_prob()
    assert tuple(tr.nodes["intensity"]["value"].shape) == (2, 4, 5)
    assert tuple(tr.nodes["image"]["log_prob"].shape) == (2, 4, 5)
    assert bool(torch.isfinite(tr.nodes["image"]["log_prob"]).all())


def test_the_image_keeps_its_pixel_noise():
    torch.manual_seed(3)
    scm = DeepSCM("full", **SMALL)
    x = datasets.morpho_digits(n=4, seed=0).data["image"].double()
    with pyro.plate("unit", 4):
        tr = pyro.poutine.trace(cp.condition(scm, {"image": x})).get_trace()
    law = tr.nodes["image"]["fn"]
    torch.testing.assert_close(noise_model(law).abduct(x), (x - law.loc) / law.scale)


@pytest.mark.parametrize("variant", VARIANTS)
def test_graph_of_each_variant_shows_z_and_its_edges(variant):
    g = cp.graph(DeepSCM(variant, **SMALL))
    assert sorted(g.nodes) == sorted(DIGIT_SITES)
    assert g.edges == EDGES[variant]


def test_pendulum_graph_follows_the_data_in_the_full_model():
    full = cp.graph(DeepSCM("full", "pendulum", **SMALL))
    truth = datasets.pendulum(n=2, seed=0).graph
    assert sorted(full.edges) == sorted([*truth.edges, ("z", "image")])
    assert cp.graph(DeepSCM("independent", "pendulum", **SMALL)).edges == [("z", "image")]
    conditional = cp.graph(DeepSCM("conditional", "pendulum", **SMALL))
    assert conditional.parents("shadow_length") == [] and len(conditional.parents("image")) == 5


@pytest.mark.parametrize("size", [32, 64])
def test_pendulum_images_have_the_chosen_size(size):
    scm = DeepSCM("full", "pendulum", image_size=size, **{**SMALL, "network": "conv", "channels": (4, 8)})
    ds = cp.sample(scm, 3, do={"light": 90.0}, seed=0)
    assert ds.image.shape == (3, 1, size, size)
    assert list(ds.data_vars) == ["pendulum", "light", "shadow_length", "shadow_position", "z", "image"]
    assert bool((ds.shadow_length > 0).all()) and bool((ds.light == 90.0).all())


@pytest.mark.parametrize("variant", VARIANTS)
def test_sample_and_intervene(variant):
    torch.manual_seed(4)
    scm = DeepSCM(variant, **SMALL)
    ds = cp.sample(scm, 8, seed=0)
    done = cp.sample(scm, 8, do={"thickness": 3.0}, seed=0)
    assert ds.image.shape == done.image.shape == (8, 1, 28, 28)
    assert ds.image.dims[0] == "sample" and bool((done.thickness == 3.0).all())

    def mean_image(thickness):
        obs = {"z": torch.zeros(3), "thickness": torch.tensor(thickness), "digit": torch.tensor(1)}
        return pyro.poutine.trace(cp.condition(scm, obs)).get_trace().nodes["image"]["fn"].loc

    moved = not torch.equal(mean_image(2.0), mean_image(3.0))
    assert moved == (variant != "independent")  # the independent image ignores the attributes


@pytest.mark.filterwarnings("ignore::causalppl.errors.CausalWarning")  # the edge is improbable: on purpose
def test_an_intervention_on_the_support_edge_keeps_images_finite():
    ds = cp.sample(DeepSCM("full", **SMALL), 4, do={"intensity": 1.0, "thickness": 1e-30}, seed=0)
    assert bool(torch.isfinite(torch.as_tensor(ds.image.values)).all())


@pytest.mark.parametrize("variant", VARIANTS)
def test_guide_samples_exactly_the_latent_sites(variant):
    torch.manual_seed(5)
    scm = DeepSCM(variant, **SMALL)
    data = datasets.morpho_digits(n=6, seed=0).data
    tr = pyro.poutine.trace(scm.guide).get_trace(**data)
    latent = set(sample_sites(pyro.poutine.trace(scm).get_trace())) - set(data)
    assert [n for n, s in tr.nodes.items() if s["type"] == "sample" and n != "unit"] == sorted(latent) == ["z"]
    assert tr.nodes["unit"]["fn"].size == 6 and tuple(tr.nodes["z"]["value"].shape) == (6, 3)
    assert tr.nodes["z"]["fn"].event_shape == (3,)


def test_guide_reads_the_attributes_it_conditions_on():
    torch.manual_seed(6)
    data = datasets.morpho_digits(n=6, seed=0).data
    scm = DeepSCM("conditional", **SMALL)
    loc = pyro.poutine.trace(scm.guide).get_trace(**data).nodes["z"]["fn"].base_dist.loc
    thicker = {**data, "thickness": data["thickness"] + 1}
    assert not torch.equal(pyro.poutine.trace(scm.guide).get_trace(**thicker).nodes["z"]["fn"].base_dist.loc, loc)
    with pytest.raises(CausalError, match="thickness"):
        scm.guide(image=data["image"], intensity=data["intensity"], digit=data["digit"])
    with pytest.raises(CausalError, match="colour"):
        scm.guide(**data, colour=data["thickness"])
    DeepSCM("independent", **SMALL).guide(image=data["image"])  # reads the pixels alone
    with pytest.raises(CausalError, match="image"):
        scm.guide(**{**data, "image": data["image"][:, 0]})


def test_a_few_svi_steps_reduce_the_loss():
    pyro.set_rng_seed(7)
    data = datasets.morpho_digits(n=256, seed=0).data
    scm = DeepSCM("full", **{**SMALL, "latent_dim": 4, "hidden": (64,)})

    def model(**batch):
        with pyro.plate("unit", batch["image"].shape[0]):
            return cp.condition(scm, batch)()

    svi = SVI(model, scm.guide, Adam({"lr": 1e-2}), Trace_ELBO())
    start = time.perf_counter()
    losses = [svi.step(**data) / 256 for _ in range(30)]
    assert time.perf_counter() - start < 20
    assert losses[-1] < losses[0] - 1000 and losses[-1] < 0  # from a blank decoder to a fitted pixel scale
    assert set(dict(scm.named_parameters())) >= {"likelihood.raw_scale", "label_logits.digit"}


def test_a_user_declared_scene():
    scene = ImageData(
        {"size": Attribute((), "positive", loc=0.0, scale=0.5), "hue": Attribute(("size",), "unit_interval")},
        labels={"shape": 3},
        channels=3,
        sizes=(16,),
    )
    scm = DeepSCM("full", scene, **{**SMALL, "network": "conv", "channels": (4,)})
    assert cp.graph(scm).parents("hue") == ["size"]
    ds = cp.sample(scm, 2, seed=0)
    assert ds.image.shape == (2, 3, 16, 16) and set(ds.shape.values.tolist()) <= {0, 1, 2}


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"variant": "partial"}, "variant"),
        ({"data": "mnist"}, "data"),
        ({"image_size": 32}, "image_size"),
        ({"data": "pendulum", "image_size": 28}, "image_size"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"latent_dim": 2.5}, "latent_dim"),
        ({"network": "resnet"}, "network"),
        ({"hidden": (64, 0)}, "hidden"),
        ({"channels": "wide"}, "channels"),
        ({"flow_hidden": (-1,)}, "flow_hidden"),
        ({"pixel_scale": 0.0}, "pixel_scale"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, argument):
    with pytest.raises(CausalError, match=argument):
        DeepSCM(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"attributes": {"b": Attribute(("a",))}}, "'a'"),
        ({"attributes": {"a": Attribute(support="circle")}}, "support"),
        ({"attributes": {"a": Attribute(scale=-1.0)}}, "scale"),
        ({"attributes": {"z": Attribute()}}, "'z'"),
        ({"attributes": {"a": Attribute()}, "labels": {"c": 1}}, "labels"),
        ({"attributes": {}}, "attributes"),
        ({"attributes": {"a": Attribute()}, "sizes": ()}, "sizes"),
    ],
)
def test_bad_scenes_name_the_culprit(kwargs, argument):
    with pytest.raises(CausalError, match=argument):
        ImageData(**kwargs)
