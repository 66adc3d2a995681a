"""``causalppl bench kernels``: the stacked-mechanism and decoder paths, side by side.

* CPU: the batched torch path (node-major ``bmm``, with and without skipping root nodes)
  against a per-node Python loop of ``nn.Linear`` MLPs and ``torch.func.vmap`` over stacked
  modules, forward and forward+backward, for (B, N, H) = (4096, 20, 64), (65536, 50, 128).
* Every shape: the unavoidable bytes, FLOPs and special-function operations, and the
  roofline time on an H100 (kernels/roofline.py).
* sm_90 compile report: registers, spills and shared memory of every kernel launch at the
  benchmark shapes, compiled ahead of time without a GPU (kernels/aot.py).
* GPU (only when CUDA is available): Triton vs PyTorch eager vs ``torch.compile`` of the
  reference, forward and forward+backward, achieved GB/s, FLOP/s and % of the roofline;
  the whole-DAG vs per-level sampling kernels by DAG depth; the decoder.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from causalppl.bench import _harness
from causalppl.kernels import aot, roofline
from causalppl.kernels.mechanism import reference
from causalppl.kernels.testing import random_mechanism

from ._kernels_gpu import gpu_sections

__all__ = ["main"]

SHAPES = [(4096, 20, 64), (65536, 50, 128)]
QUICK_SHAPES = [(256, 5, 16), (1024, 8, 32)]
ACTIVATION = "tanh"
MAX_PARENTS = 3


def network(batch, nodes, hidden, device="cpu", seed=0):
    """The benchmark's SCM: a random DAG, <= 3 parents per node, one hidden layer (a
    "2-layer MLP" per node), location-scale outputs; float32."""
    net = random_mechanism(seed, nodes, MAX_PARENTS, (hidden,), 2, dtype=torch.float32, device=device)
    x = torch.randn(batch, nodes, generator=torch.Generator().manual_seed(seed), dtype=torch.float32).to(device)
    return net, x


def _outputs_to_log_prob(x, out):
    loc, s = out[..., 0], reference.scale_transform(out[..., 1])
    u = (x - loc) / s
    return loc, s, u, (-0.5 * u * u - torch.log(s) - reference.HALF_LOG_2PI).sum(-1)


def per_node_loop(net, activation):
    """One ``nn.Sequential`` per node over its real parents only (roots read nothing)."""
    act = {"tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU}[activation]
    modules, parents = [], []
    for j in range(net.parent_index.shape[0]):
        live = (net.parent_mask[j] != 0).nonzero().flatten()
        with warnings.catch_warnings():  # a root's Linear(0, H) has nothing to initialise
            warnings.filterwarnings("ignore", "Initializing zero-element tensors")
            first = nn.Linear(len(live), net.weights[0].shape[-1], dtype=torch.float32)
        last = nn.Linear(net.weights[0].shape[-1], 2, dtype=torch.float32)
        with torch.no_grad():
            first.weight.copy_((net.weights[0][j][live] * net.parent_mask[j][live, None]).T)
            first.bias.copy_(net.biases[0][j])
            last.weight.copy_(net.weights[1][j].T)
            last.bias.copy_(net.biases[1][j])
        modules.append(nn.Sequential(first, act(), last).to(net.weights[0].device))
        parents.append(net.parent_index[j][live])

    def forward(x):
        outs = [m(x[:, p]) for m, p in zip(modules, parents)]
        return _outputs_to_log_prob(x, torch.stack(outs, dim=1))

    return forward, [p for m in modules for p in m.parameters()]


def vmapped(net, activation):
    """``torch.func.vmap`` over N stacked copies of one module (padded parent slots)."""
    act = {"tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU}[activation]
    p, h = net.weights[0].shape[1:]
    copies = []
    for j in range(net.parent_index.shape[0]):
        first = nn.Linear(p, h, dtype=torch.float32)
        last = nn.Linear(h, 2, dtype=torch.float32)
        with torch.no_grad():
            first.weight.copy_(net.weights[0][j].T)
            first.bias.copy_(net.biases[0][j])
            last.weight.copy_(net.weights[1][j].T)
            last.bias.copy_(net.biases[1][j])
        copies.append(nn.Sequential(first, act(), last))
    params, buffers = torch.func.stack_module_state(copies)
    params = {k: v.detach().to(net.weights[0].device).requires_grad_() for k, v in params.items()}
    base = copies[0].to("meta")

    def one(par, buf, xp):
        return torch.func.functional_call(base, (par, buf), (xp,))

    def forward(x):
        xp = reference.gather_parents(x, net.parent_index, net.parent_mask).transpose(0, 1)
        out = torch.vmap(one, in_dims=(0, 0, 0))(params, buffers, xp)  # [N, B, 2]
        return _outputs_to_log_prob(x, out.transpose(0, 1))

    return forward, list(params.values())


def cpu_contenders(net, x, activation):
    """``name -> (forward callable, its parameters)``; all compute the same four outputs."""
    params = [p.requires_grad_() for p in net.weights + net.biases]
    return {
        "batched bmm, roots skipped": (
            lambda x: reference.mechanism_forward(x, *net.args(), activation, skip_roots=True),
            params,
        ),
        "batched bmm, all nodes": (
            lambda x: reference.mechanism_forward(x, *net.args(), activation, skip_roots=False),
            params,
        ),
        "per-node nn.Linear loop": per_node_loop(net, activation),
        "torch.func.vmap": vmapped(net, activation),
    }


def _run(fn, params, x, backward):
    if not backward:
        with torch.no_grad():
            return fn(x)
    return torch.autograd.grad(fn(x)[3].sum(), params)


def cpu_section(shapes, repeat):
    lines = [
        "## CPU: batched torch path vs per-node loop vs vmap (float32)",
        "",
        f"Random DAG, at most {MAX_PARENTS} parents per node, one hidden layer of H "
        f"({ACTIVATION}), location-scale outputs; the four outputs (loc, scale, u, "
        "log_prob) of every node. fwd+bwd adds the gradient of sum(log_prob) with respect "
        "to every parameter. Milliseconds per call, medians of round-robin runs; in "
        "brackets: contender / batched (roots skipped).",
        "",
    ]
    rows = []
    for batch, nodes, hidden in shapes:
        net, x = network(batch, nodes, hidden)
        contenders = cpu_contenders(net, x, ACTIVATION)
        want = contenders["batched bmm, roots skipped"][0](x)[3]
        for fn, _ in contenders.values():  # one answer before any timing
            torch.testing.assert_close(fn(x)[3], want, rtol=1e-4, atol=1e-3 * nodes)
        for label in ("fwd", "fwd+bwd"):
            times = _harness.measure_side_by_side(
                {
                    name: (lambda f=fn, p=ps, x=x, b=label == "fwd+bwd": _run(f, p, x, b))
                    for name, (fn, ps) in contenders.items()
                },
                repeat=repeat,
            )
            base = times["batched bmm, roots skipped"]
            rows.append(
                [f"({batch}, {nodes}, {hidden})", label] + [f"{1e3 * t:.4g} ({t / base:.2f}x)" for t in times.values()]
            )
    lines.append(_harness.table(["(B, N, H)", "pass", *contenders], rows))
    return "\n".join(lines)


def roofline_section(shapes):
    lines = [
        "## Roofline per shape (H100 SXM, fp32)",
        "",
        "Unavoidable work (each input read once, each output written once, each "
        "multiply-add once; kernels/roofline.py) and the time each H100 limit needs. "
        "`special` counts exp/reciprocal operations (2 per tanh), which run on the "
        "16-per-clock special-function units.",
        "",
    ]
    rows = []
    for batch, nodes, hidden in shapes:
        net, _ = network(2, nodes, hidden)
        parents = (net.parent_mask != 0).sum(1).tolist()
        for label, backward in (("fwd", False), ("fwd+bwd", True)):
            c = roofline.mechanism_counts(batch, parents, (hidden,), 2, ACTIVATION, backward)
            r = roofline.roofline_seconds(c, roofline.H100_SXM)
            rows.append(
                [
                    f"({batch}, {nodes}, {hidden})",
                    label,
                    f"{c['bytes'] / 1e6:.4g}",
                    f"{c['flops'] / 1e9:.4g}",
                    f"{c['special'] / 1e6:.4g}",
                    f"{1e6 * r['memory']:.3g}",
                    f"{1e6 * r['arithmetic']:.3g}",
                    f"{1e6 * r['special functions']:.3g}",
                    r["limit"],
                ]
            )
    lines.append(
        _harness.table(
            ["(B, N, H)", "pass", "MB", "GFLOP", "M special", "memory µs", "FMA µs", "special µs", "binding"], rows
        )
    )
    return "\n".join(lines)


def compile_section(shapes):
    specs = [
        {
            "kind": "mechanism",
            "nodes": n,
            "max_parents": MAX_PARENTS,
            "hidden": [h],
            "outputs": 2,
            "activation": ACTIVATION,
            "batch": b,
        }
        for b, n, h in shapes
    ]
    specs.append(
        {
            "kind": "decoder",
            "widths": [16, 256, 256, 784],
            "activation": "relu",
            "out_activation": "sigmoid",
            "batch": 4096,
        }
    )
    lines = [
        "## sm_90 compile report (no GPU needed)",
        "",
        "Every launch the entry points make at these shapes, compiled ahead of time for "
        "sm_90 with Triton's bundled ptxas (kernels/aot.py): registers per thread, spill "
        "bytes, shared memory, warps and rows per program.",
        "",
    ]
    try:
        reports = aot.report(specs)
    except Exception as err:  # no NVIDIA toolchain in this Triton build
        return "\n".join(lines + [f"not run: {type(err).__name__}: {str(err)[:300]}"])
    rows = []
    for r in reports:
        spec = r["spec"]
        what = (
            f"mechanism ({spec['batch']}, {spec['nodes']}, {spec['hidden'][0]})"
            if spec["kind"] == "mechanism"
            else f"decoder {tuple(spec['widths'])}"
        )
        block = r["constexprs"].get("BB") or f"{r['constexprs'].get('BM')}x{r['constexprs'].get('BN')}"
        rows.append(
            [what, r["label"], r["kernel"], r["registers"], r["spill_bytes"], r["shared_bytes"], r["num_warps"], block]
        )
    lines.append(
        _harness.table(
            ["workload", "launch", "kernel", "registers", "spill B", "shared B", "warps", "rows / tile"], rows
        )
    )
    return "\n".join(lines)


def main(argv=None):
    p = _harness.parser("kernels", __doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-compile-report", action="store_true", help="skip the sm_90 compiles")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    sections = [cpu_section(shapes, 2 if args.quick else args.repeat), roofline_section(shapes)]
    if not (args.quick or args.no_compile_report):
        sections.append(compile_section(shapes))
    sections.append(gpu_sections(shapes, network, quick=args.quick))
    return _harness.write_results(
        args.out, "kernels (stacked mechanisms and decoder)", "\n\n".join(sections), argv=argv or []
    )
