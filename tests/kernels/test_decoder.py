"""The fused decoder: reference by hand, kernels (interpreter, GPU) against the reference."""

import pytest
import torch
from hypothesis import strategies as st

from causalppl.errors import CausalError
from causalppl.kernels import decoder_forward, use_backend
from causalppl.kernels.decoder import reference
from causalppl.kernels.testing import assert_matches_reference, random_decoder


def test_reference_is_the_layer_chain():
    torch.manual_seed(0)
    z = torch.randn(5, 3)
    (w0, w1), (b0, b1) = random_decoder(1, (3, 4, 6))
    want = torch.sigmoid(torch.tanh(z @ w0 + b0) @ w1 + b1)
    torch.testing.assert_close(reference.decoder_forward(z, [w0, w1], [b0, b1], "tanh", "sigmoid"), want)
    with use_backend("torch"):
        torch.testing.assert_close(decoder_forward(z, [w0, w1], [b0, b1], "tanh", "sigmoid"), want)


def decoder_shapes(max_batch, max_width, max_out):
    return st.fixed_dictionaries(
        {
            "seed": st.integers(0, 2**31 - 1),
            "batch": st.integers(1, max_batch),
            "latent": st.integers(1, max_width),
            "hidden": st.lists(st.integers(1, max_width), max_size=4).map(tuple),
            "out": st.integers(1, max_out),
            "activation": st.sampled_from(["tanh", "relu", "silu"]),
            "out_activation": st.sampled_from([None, "sigmoid", "tanh"]),
            "z_grad": st.booleans(),
        }
    )


def check_decoder(s, backend_name, device="cpu"):
    weights, biases = random_decoder(s["seed"], (s["latent"], *s["hidden"], s["out"]), device=device)
    params = [p.requires_grad_() for p in weights + biases]
    gen = torch.Generator().manual_seed(s["seed"] + 1)
    z = torch.randn(s["batch"], s["latent"], generator=gen).to(device)
    z.requires_grad_(s["z_grad"])
    inputs = params + ([z] if s["z_grad"] else [])
    want = reference.decoder_forward(z, weights, biases, s["activation"], s["out_activation"])
    with use_backend(backend_name):
        got = decoder_forward(z, weights, biases, s["activation"], s["out_activation"])
    assert_matches_reference([got], [want], ["y"], inputs, seed=s["seed"] + 2)


DECODER_CASES = {  # kernel_case: (max_examples, shapes)
    "interpret": (20, decoder_shapes(max_batch=150, max_width=33, max_out=70)),
    "interpret-many": (40, decoder_shapes(max_batch=256, max_width=64, max_out=300)),
    "gpu": (20, decoder_shapes(max_batch=4096, max_width=256, max_out=3000)),
}


def test_fused_decoder_matches_reference(kernel_case):
    kernel_case(check_decoder, DECODER_CASES)


def test_decoder_bad_input_names_the_argument():
    weights, biases = random_decoder(0, (3, 4, 5))
    z = torch.randn(2, 3)
    cases = [
        (dict(z=torch.randn(3)), "z"),
        (dict(z=torch.randn(2, 4)), r"weights\[0\]"),
        (dict(z=z.float()), r"weights\[0\] has dtype"),
        (dict(biases=biases[:1]), "biases"),
        (dict(biases=[biases[0], torch.zeros(4)]), r"biases\[1\]"),
        (dict(activation="gelu"), "activation"),
        (dict(out_activation="relu"), "out_activation"),
        (dict(weights=[]), "weights"),
    ]
    for change, match in cases:
        args = dict(z=z, weights=weights, biases=biases, activation="tanh", out_activation=None)
        args.update(change)
        with pytest.raises(CausalError, match=match):
            decoder_forward(**args)
