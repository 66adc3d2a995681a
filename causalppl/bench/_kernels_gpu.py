"""GPU half of ``causalppl bench kernels``: Triton vs eager vs ``torch.compile``, roofline.

Runs only with CUDA (or, for a smoke test of this code, on CPU through the interpreter with
``device="cpu", backend_name="interpret"``, where the times mean nothing).
"""

from __future__ import annotations

import torch

from causalppl.bench import _harness
from causalppl.kernels import (
    decoder_forward,
    mechanism_forward,
    mechanism_sample,
    roofline,
    use_backend,
)
from causalppl.kernels.decoder import reference as decoder_reference
from causalppl.kernels.mechanism import reference
from causalppl.kernels.testing import Mechanism, random_decoder

__all__ = ["gpu_sections"]

DECODERS = [(4096, (16, 256, 256, 784)), (16384, (8, 128, 4096))]
QUICK_DECODERS = [(64, (4, 16, 40))]


def _compiled(fn, enabled):
    if not enabled:
        return None
    try:
        return torch.compile(fn)
    except Exception:  # noqa: BLE001 - reported as a missing column, not a crash
        return None


def _timed(contenders, params, backward, repeat):
    def run(fn):
        if not backward:
            with torch.no_grad():
                return fn()
        out = fn()
        out = out[3] if isinstance(out, tuple) else out
        return torch.autograd.grad(out.sum(), params)

    fns = {}
    for name, fn in contenders.items():
        if fn is None:
            continue
        try:
            run(fn)
            fns[name] = lambda f=fn: run(f)
        except Exception as err:  # noqa: BLE001 - e.g. torch.compile without a compiler
            print(f"{name}: not timed ({type(err).__name__}: {str(err)[:200]})")
    return _harness.measure_side_by_side(fns, repeat=repeat)


def _rate_rows(label, times, counts, gpu, precision):
    limit = roofline.roofline_seconds(counts, gpu, precision)
    rows = []
    for name, t in times.items():
        versus = f"{times['torch.compile'] / t:.3g}" if "torch.compile" in times else "n/a"
        rows.append(
            [
                label,
                name,
                f"{1e3 * t:.4g}",
                f"{counts['bytes'] / t / 1e9:.4g}",
                f"{counts['flops'] / t / 1e12:.4g}",
                f"{100 * limit['seconds'] / t:.3g}%",
                versus,
            ]
        )
    return rows


def mechanism_rows(shapes, network, device, backend_name, gpu, use_compile, repeat):
    rows = []
    for batch, nodes, hidden in shapes:
        net, x = network(batch, nodes, hidden, device=device)
        params = [p.requires_grad_() for p in net.weights + net.biases]
        parents = (net.parent_mask != 0).sum(1).tolist()

        def triton_path(net=net, x=x):
            with use_backend(backend_name):
                return mechanism_forward(x, *net.args(), "tanh")

        contenders = {
            "triton": triton_path,
            "eager": lambda net=net, x=x: reference.mechanism_forward(x, *net.args(), "tanh"),
            "torch.compile": _compiled(
                lambda net=net, x=x: reference.mechanism_forward(x, *net.args(), "tanh", skip_roots=False), use_compile
            ),
        }
        for label, backward in (("fwd", False), ("fwd+bwd", True)):
            times = _timed(contenders, params, backward, repeat)
            counts = roofline.mechanism_counts(batch, parents, (hidden,), 2, "tanh", backward)
            rows += _rate_rows(f"({batch}, {nodes}, {hidden}) {label}", times, counts, gpu, "ieee")
    return rows


def _graph(kind, nodes, hidden, device):
    """A chain (depth N), a star (depth 2) or a layered DAG of depth ~sqrt(N)."""
    gen = torch.Generator().manual_seed(1)
    pidx = torch.zeros(nodes, 1, dtype=torch.long)
    pmask = torch.zeros(nodes, 1, dtype=torch.float32)
    width = max(1, int(nodes**0.5))
    for j in range(1, nodes):
        pidx[j, 0] = {"chain": j - 1, "star": 0, "layered": max(0, j - width)}[kind]
        pmask[j, 0] = 1.0
    f32 = torch.float32
    weights = [
        torch.randn(nodes, 1, hidden, generator=gen, dtype=f32),
        torch.randn(nodes, hidden, 2, generator=gen, dtype=f32) * 0.1,
    ]
    biases = [torch.randn(nodes, hidden, generator=gen, dtype=f32), torch.zeros(nodes, 2, dtype=f32)]
    return Mechanism(
        pidx.to(device),
        pmask.to(device),
        [w.to(device) for w in weights],
        [b.to(device) for b in biases],
        None,
        torch.arange(nodes, device=device),
    )


def sampling_rows(shapes, device, backend_name, repeat):
    rows = []
    batch, nodes, hidden = shapes[-1]
    for kind in ("chain", "layered", "star"):
        net = _graph(kind, nodes, hidden, device)
        u = torch.randn(batch, nodes, device=device, dtype=torch.float32)
        fns = {}
        for variant in ("dag", "level"):

            def run(variant=variant, net=net, u=u):
                with use_backend(backend_name), torch.no_grad():
                    return mechanism_sample(u, *net.args(), "tanh", net.order, variant=variant)

            fns[variant] = run
        times = _harness.measure_side_by_side(fns, repeat=repeat)
        depth = {"chain": nodes, "star": 2, "layered": -(-nodes // max(1, int(nodes**0.5)))}[kind]
        rows.append(
            [
                f"({batch}, {nodes}, {hidden})",
                kind,
                depth,
                f"{1e3 * times['dag']:.4g}",
                f"{1e3 * times['level']:.4g}",
                f"{times['level'] / times['dag']:.3g}",
            ]
        )
    return rows


def decoder_rows(decoders, device, backend_name, gpu, use_compile, repeat):
    rows = []
    for batch, widths in decoders:
        weights, biases = random_decoder(0, widths, dtype=torch.float32, device=device)
        params = [p.requires_grad_() for p in weights + biases]
        z = torch.randn(batch, widths[0], device=device, dtype=torch.float32)

        def triton_path(z=z, w=weights, b=biases):
            with use_backend(backend_name):
                return decoder_forward(z, w, b, "relu", "sigmoid")

        def eager(z=z, w=weights, b=biases):
            return decoder_reference.decoder_forward(z, w, b, "relu", "sigmoid")

        contenders = {"triton": triton_path, "eager": eager, "torch.compile": _compiled(eager, use_compile)}
        for label, backward in (("fwd", False), ("fwd+bwd", True)):
            times = _timed(contenders, params, backward, repeat)
            counts = roofline.decoder_counts(batch, widths, "relu", "sigmoid", backward)
            rows += _rate_rows(f"{batch} x {widths} {label}", times, counts, gpu, "fp32")
    return rows


def gpu_sections(shapes, network, quick=False, device=None, backend_name="triton", use_compile=True):
    """Markdown for the GPU measurements, or a note saying why they were not run."""
    if device is None:
        if not torch.cuda.is_available():
            return (
                "## GPU: Triton vs eager vs torch.compile\n\nNot run: no GPU in this "
                "session. These numbers are pending a session with an H100/H200."
            )
        device = "cuda"
    name = torch.cuda.get_device_name() if device == "cuda" else "H100 SXM (assumed)"
    gpu = roofline.gpu_spec(name)
    repeat = 3 if quick else 20
    header = ["workload", "path", "ms", "GB/s", "TFLOP/s", "% of roofline", "compile / this"]
    text = [
        f"## GPU ({name}): Triton vs eager vs torch.compile",
        "",
        f"Roofline from kernels/roofline.py with {gpu.name} peaks; mechanism products on "
        "CUDA cores (fp32 FMA), decoder products as 3xTF32 on tensor cores.",
        "",
        _harness.table(header, mechanism_rows(shapes, network, device, backend_name, gpu, use_compile, repeat)),
        "",
        "### Sampling: one launch walking the DAG vs one launch per level",
        "",
        _harness.table(
            ["(B, N, H)", "graph", "depth", "dag ms", "level ms", "level / dag"],
            sampling_rows(shapes, device, backend_name, repeat),
        ),
        "",
        "### Decoder",
        "",
        _harness.table(
            header, decoder_rows(QUICK_DECODERS if quick else DECODERS, device, backend_name, gpu, use_compile, repeat)
        ),
    ]
    return "\n".join(text)
