"""Image decoders and encoders: shapes, conditioning, the kernel backends, training, bad input."""

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam

from causalppl.errors import CausalError
from causalppl.kernels import use_backend
from causalppl.kernels.testing import assert_matches_reference
from causalppl.nn import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder, NormalImage

DECODERS = [
    lambda shape, ctx: MLPDecoder(3, shape, hidden=(16,), context_dim=ctx),
    lambda shape, ctx: ConvDecoder(3, shape, channels=(8, 4), context_dim=ctx),
]
ENCODERS = [
    lambda shape, ctx: MLPEncoder(shape, 3, hidden=(16,), context_dim=ctx),
    lambda shape, ctx: ConvEncoder(shape, 3, channels=(4, 8), hidden=(16,), context_dim=ctx),
]


@pytest.mark.parametrize("block", [1, 3, 7])
def test_conv_networks_in_row_blocks_give_the_one_call_answer_and_gradients(block):
    """On a CPU the conv networks run their layers over blocks of rows: same outputs, same gradients."""
    torch.manual_seed(0)
    shape, lead = (1, 8, 12), (2, 5)
    dec = ConvDecoder(3, shape, channels=(8, 4), context_dim=2, row_block=None)
    enc = ConvEncoder(shape, 3, channels=(4, 8), hidden=(16,), context_dim=2, row_block=None)
    z, ctx, image = torch.randn(*lead, 3), torch.randn(*lead, 2), torch.rand(*lead, *shape)

    def run(row_block):
        dec.row_block = enc.row_block = row_block
        dec.zero_grad(), enc.zero_grad()
        loc, scale = enc(image, ctx)
        pixels = dec(z, ctx)
        (pixels.square().sum() + loc.sum() + scale.sum()).backward()
        grads = [p.grad.clone() for p in (*dec.parameters(), *enc.parameters())]
        return [pixels.detach(), loc.detach(), scale.detach(), *grads]

    for whole, blocked in zip(run(None), run(block)):
        torch.testing.assert_close(blocked, whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make", DECODERS, ids=["mlp", "conv"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (2, 8, 12)])
def test_decoder_shapes_with_leading_dims_and_context(make, shape):
    torch.manual_seed(0)
    dec = make(shape, 2)
    z = torch.randn(4, 5, 3)
    as_list = dec(z, [torch.rand(5), torch.rand(4, 5)])  # per-parent values broadcast
    assert as_list.shape == (4, 5, *shape)
    assert dec(z[0, 0], torch.rand(2)).shape == shape  # one unit
    assert dec(z, torch.rand(5, 2)).shape == (4, 5, *shape)
    assert bool(((as_list > 0) & (as_list < 1)).all())  # sigmoid means by default


@pytest.mark.parametrize("make", ENCODERS, ids=["mlp", "conv"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 64, 64), (1, 9, 7)])
def test_encoder_shapes_with_leading_dims_and_context(make, shape):
    torch.manual_seed(0)
    enc = make(shape, 1)
    image = torch.rand(2, 3, *shape)
    loc, scale = enc(image, [torch.rand(2, 3)])
    assert loc.shape == scale.shape == (2, 3, 3)
    assert bool((scale > 0).all())
    loc1, _ = enc(image[1, 2], [torch.tensor(0.5)])
    assert loc1.shape == (3,)


def test_context_is_concatenated_after_the_latent():
    torch.manual_seed(0)
    dec = MLPDecoder(2, (1, 2, 2), hidden=(), out_activation=None, context_dim=1)
    (w,), (b,) = dec.net.weights(), dec.net.biases()
    assert w.shape == (3, 4)  # [in, out]: the kernel's layout, z first then the context
    z, t = torch.randn(5, 2), torch.randn(5)
    want = torch.cat([z, t[:, None]], -1) @ w + b
    torch.testing.assert_close(dec(z, [t]), want.reshape(5, 1, 2, 2))


@pytest.mark.interpreter
@pytest.mark.parametrize(
    "activation, out_activation, context_dim", [("relu", "sigmoid", 0), ("silu", None, 2), ("tanh", "tanh", 1)]
)
def test_mlp_decoder_interpret_backend_matches_torch(activation, out_activation, context_dim):
    torch.manual_seed(0)
    dec = MLPDecoder(
        3, (1, 5, 6), hidden=(16, 24), activation=activation, out_activation=out_activation, context_dim=context_dim
    )
    z = torch.randn(2, 7, 3, requires_grad=True)  # leading dims: 14 rows through the kernel
    context = torch.randn(7, context_dim) if context_dim else None
    with use_backend("torch"):
        want = dec(z, context)
    with use_backend("interpret"):
        got = dec(z, context)
    assert_matches_reference([got], [want], ["image"], [*dec.parameters(), z], seed=1)


@pytest.mark.gpu
def test_mlp_decoder_triton_backend_matches_torch_on_cuda():
    torch.manual_seed(0)
    dec = MLPDecoder(16, (1, 28, 28), hidden=(256, 256), context_dim=2).to("cuda")  # before any call
    z = torch.randn(512, 16, device="cuda", requires_grad=True)
    context = torch.randn(512, 2, device="cuda")
    with use_backend("torch"):
        want = dec(z, context)
    with use_backend("triton"):
        got = dec(z, context)
    assert_matches_reference([got], [want], ["image"], [*dec.parameters(), z], seed=3)


@pytest.mark.interpreter
def test_mlp_encoder_interpret_backend_matches_torch():
    torch.manual_seed(0)
    enc = MLPEncoder((1, 4, 4), 2, hidden=(8,), context_dim=1)
    image = torch.rand(6, 1, 4, 4)
    with use_backend("torch"):
        want = enc(image, [torch.ones(6)])
    with use_backend("interpret"):
        got = enc(image, [torch.ones(6)])
    assert_matches_reference(list(got), list(want), ["loc", "scale"], list(enc.parameters()), seed=2)


def _bars(n, seed):
    """``n`` 8x8 images, each a bright horizontal and vertical bar at random rows/columns."""
    g = torch.Generator().manual_seed(seed)
    rows, cols = torch.randint(0, 8, (n,), generator=g), torch.randint(0, 8, (n,), generator=g)
    image = torch.zeros(n, 1, 8, 8)
    image[torch.arange(n), 0, rows, :] = 1.0
    image[torch.arange(n), 0, :, cols] = 1.0
    return image


@pytest.mark.parametrize(
    "enc, dec",
    [
        (lambda: MLPEncoder((1, 8, 8), 4, hidden=(32,)), lambda: MLPDecoder(4, (1, 8, 8), hidden=(32,))),
        (
            lambda: ConvEncoder((1, 8, 8), 4, channels=(8, 16), hidden=(32,), activation="silu"),
            lambda: ConvDecoder(4, (1, 8, 8), channels=(16, 8), activation="silu"),
        ),
    ],
    ids=["mlp", "conv"],
)
def test_tiny_autoencoder_learns(enc, dec):
    torch.manual_seed(0)
    encoder, decoder = enc(), dec()
    images = _bars(64, seed=1)
    mean_image_mse = float(((images - images.mean(0)) ** 2).mean())  # what ignoring the code achieves
    opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-2)
    for _ in range(100):
        opt.zero_grad()
        loss = ((decoder(encoder(images)[0]) - images) ** 2).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = float(((decoder(encoder(images)[0]) - images) ** 2).mean())
    assert final < 0.6 * mean_image_mse


def test_networks_train_as_a_pyro_vae():
    pyro.set_rng_seed(0)
    encoder = MLPEncoder((1, 8, 8), 2, hidden=(32,), context_dim=1)
    decoder = MLPDecoder(2, (1, 8, 8), hidden=(32,), context_dim=1)
    images, t = _bars(64, seed=2), torch.rand(64)

    def model(image, t):
        with pyro.plate("unit", image.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))
            pyro.sample("image", NormalImage(decoder(z, [t]), 0.2), obs=image)

    def guide(image, t):
        with pyro.plate("unit", image.shape[0]):
            pyro.sample("z", dist.Normal(*encoder(image, [t])).to_event(1))

    svi = SVI(model, guide, Adam({"lr": 1e-2}), Trace_ELBO())
    losses = [svi.step(images, t) for _ in range(80)]
    names = list(pyro.get_param_store().keys())  # both networks' weights live in the param store
    assert any(n.startswith("MLPEncoder") for n in names) and any(n.startswith("MLPDecoder") for n in names)
    assert sum(losses[-10:]) < 0.5 * sum(losses[:10])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: MLPDecoder(3, (28, 28)), "image_shape"),
        (lambda: MLPDecoder(0, (1, 28, 28)), "latent_dim"),
        (lambda: MLPDecoder(3, (1, 28, 28), hidden=(16, 0)), "hidden"),
        (lambda: MLPDecoder(3, (1, 28, 28), activation="gelu"), "activation"),
        (lambda: MLPDecoder(3, (1, 28, 28), out_activation="relu"), "out_activation"),
        (lambda: ConvDecoder(3, (1, 28, 28), channels=(8, 8, 8)), "image_shape"),
        (lambda: ConvEncoder((1, 3, 3), 2, channels=(4, 4)), "image_shape"),
        (lambda: ConvEncoder((1, 4, 4), 2, channels=(4,), row_block=0), "row_block"),
        (lambda: ConvDecoder(3, (1, 4, 4), channels=(4,), row_block=2.5), "row_block"),
        (lambda: MLPEncoder((1, 4, 4), 2, context_dim=-1), "context_dim"),
        (lambda: MLPDecoder(3, (1, 4, 4))(torch.randn(2, 4)), "z"),
        (lambda: MLPDecoder(3, (1, 4, 4))(torch.randn(2, 3), torch.randn(2, 1)), "context"),
        (lambda: MLPDecoder(3, (1, 4, 4), context_dim=2)(torch.randn(2, 3)), "context"),
        (lambda: MLPDecoder(3, (1, 4, 4), context_dim=2)(torch.randn(2, 3), torch.randn(2, 3)), "context"),
        (lambda: MLPDecoder(3, (1, 4, 4), context_dim=2)(torch.randn(2, 3), [torch.randn(2)]), "context"),
        (
            lambda: ConvDecoder(3, (1, 4, 4), channels=(2,), context_dim=1)(torch.randn(2, 3), torch.randn(3, 1)),
            "context",
        ),
        (lambda: MLPEncoder((1, 4, 4), 2)(torch.rand(2, 4, 4)), "image"),
        (lambda: ConvEncoder((1, 4, 4), 2, channels=(2,))(torch.rand(2, 2, 4, 4)), "image"),
        (
            lambda: ConvEncoder((1, 4, 4), 2, channels=(2,), context_dim=1)(torch.rand(2, 1, 4, 4), [1.0, 2.0]),
            "context",
        ),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(CausalError, match=match):
        call()
