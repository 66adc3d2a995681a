"""``causalppl bench cpu_paths``: every CPU optimisation against the plain reference and ``torch.compile``.

Part 1, the stacked MLP of a :class:`~causalppl.NeuralSCM` (what its fast paths run per
call): :func:`~causalppl.mechanisms.blocked_mlp.blocked_mlp` against the reference
:func:`~causalppl.mechanisms.blocked_mlp.reference_mlp` (autograd) and against
``torch.compile`` of that reference, forward (no autograd) and forward + backward (the
weight and bias gradients, what a fit step needs), on the MLP inputs of a NeuralSCM over
``tanh_anm(N)`` (20 and 50 nodes, hidden (64, 64), batches 256 and 4,096, tanh, silu and relu).
Beside it, each part of the blocked path switched off on its own
(:class:`~causalppl.mechanisms.blocked_mlp.Parts`, the buffer leases among them): the ratio
is the time without the part over the time with every part. ``used`` says whether the
package takes the blocked path at that shape
(:func:`~causalppl.mechanisms.blocked_mlp.worth_blocking`).

Part 1b, the same inside whole queries: ``counterfactual_rows`` and ``cp.sample`` of 4,096
units on the counterfactual model of ``causalppl bench neural_scm`` (one MLP call per
topological level), the MLP switched by :func:`causalppl.scm.fast.stacked_options` to the
reference, its ``torch.compile``, the blocked path, or the package's choice.

Part 2, query-level caches: one-unit and 4,096-unit queries with and without each cache:
a NeuralSCM's gathers per node set (:func:`causalppl.scm.fast.stacked_options`) and the
per-model probe cache (:func:`causalppl.program.probe`), the latter with the NeuralSCM
called as a plain Pyro program and, without it, a fresh function object per call.

Part 3, the convolutional image networks in row blocks (:mod:`._conv_rows`); ``--only conv``
runs this part alone.

Every contender is timed in the same rounds, in a new random order each round, and the
medians are compared, so load from other processes and cache warmth hit all alike.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import sys

import torch

import causalppl as cp

from ..datasets import tanh_anm
from ..mechanisms.blocked_mlp import PARTS, Parts, blocked_mlp, reference_mlp, worth_blocking
from ..scm import NeuralSCM
from ..scm.fast import encode_all, stacked_options
from ._conv_rows import HEADER as CONV_HEADER
from ._conv_rows import conv_rows
from ._harness import measure_side_by_side, parser, table, write_results

__all__ = ["main"]

# every contender in each round, in a new random order, medians compared (module docstring)
_side_by_side = functools.partial(measure_side_by_side, warmup=2, shuffle=True)
_ONLY_FOR = {"tanh_sigmoid": "tanh"}  # parts that touch one activation
_HEADER = ["activation", "nodes", "batch", "mode", "reference ms", "compiled ms", "blocked ms"]
_HEADER += ["vs reference", "vs compiled", "used"]


def _scm(n_nodes: int, batch: int, hidden, activation: str, seed: int | None = None):
    truth = tanh_anm(n_nodes, seed=n_nodes if seed is None else seed)
    torch.manual_seed(0)
    scm = NeuralSCM(truth.graph, hidden=hidden, activation=activation)
    data = {k: v.to(torch.get_default_dtype()) for k, v in truth.sample(batch, seed=1).items()}
    scm.set_standardization(data)
    return scm, data


def _mlp_inputs(scm, data):
    """The stacked MLP's inputs as the fast path builds them: parents gathered node-major,
    the leading root nodes (no parents) evaluated on one zero row."""
    X = encode_all(scm, data)
    roots = next((i for i, v in enumerate(scm.layout.bank_nodes) if scm.graph.parents(v)), len(scm.nodes))
    h = X[:, scm.parent_index[roots:]].permute(1, 0, 2) * scm.parent_mask[roots:].unsqueeze(1)
    weights = [w.detach().clone().requires_grad_() for w in scm.bank.weights()]
    biases = [b.detach().clone().requires_grad_() for b in scm.bank.biases()]
    return h.detach(), weights, biases, roots


def _modes(params, grad_out):
    def forward(fn):
        def run():
            with torch.no_grad():
                return fn()

        return run

    def backward(fn):
        return lambda: torch.autograd.grad(fn(), params, grad_out)

    return {"forward": forward, "forward + backward": backward}


def _mlp_rows(sizes, batches, hidden, activations, repeat, parts: bool):
    """Part 1: ``(rows, part rows)`` of the results tables."""
    rows, part_rows = [], []
    names = [f.name for f in dataclasses.fields(Parts)] if parts else []
    for activation, n_nodes, batch in itertools.product(activations, sizes, batches):
        h, weights, biases, roots = _mlp_inputs(*_scm(n_nodes, batch, hidden, activation))
        torch.compiler.reset()  # one compiled graph per shape and mode, never a recompile limit
        compiled = torch.compile(reference_mlp, dynamic=False)
        args = (h, weights, biases, activation)
        fns = {
            "reference": functools.partial(reference_mlp, *args, roots),
            "compiled": functools.partial(compiled, *args, roots),
            "blocked": functools.partial(blocked_mlp, *args, roots=roots),
        }
        mine = [n for n in names if _ONLY_FOR.get(n, activation) == activation]
        for name in mine:
            off = dataclasses.replace(PARTS, **{name: False})
            fns[name] = functools.partial(blocked_mlp, *args, roots=roots, parts=off)
        grad_out = torch.randn(weights[0].shape[0], batch, weights[-1].shape[-1])
        for mode, wrap in _modes([*weights, *biases], grad_out).items():
            with torch.set_grad_enabled(mode != "forward"):
                used = "yes" if worth_blocking(h, weights, activation) else "no"
            t = _side_by_side({k: wrap(f) for k, f in fns.items()}, repeat=repeat(batch))
            ref, comp, fast = t["reference"], t["compiled"], t["blocked"]
            shape = [activation, n_nodes, batch, mode]
            rows.append([*shape, ref * 1e3, comp * 1e3, fast * 1e3, ref / fast, comp / fast, used])
            if names:
                part_rows.append([*shape, fast * 1e3, *(t[n] / fast if n in mine else "-" for n in names)])
    return rows, part_rows, names


def _counterfactual_problem(hidden, activation, units):
    """``causalppl bench neural_scm``'s counterfactual model: ``tanh_anm(20, seed=0)``, do on
    the two nodes with the most descendants."""
    scm, data = _scm(20, units, hidden, activation, seed=0)
    targets = sorted(scm.nodes, key=lambda v: (-len(scm.graph.descendants(v)), v))[:2]
    return scm, data, dict(zip(targets, (0.5, -0.5)))


def _query_rows(activations, units, repeat):
    """Part 1b: the stacked MLP inside whole queries (one call per topological level)."""
    rows = []
    for activation in activations:
        scm, data, do = _counterfactual_problem((32, 32), activation, units)
        table_rows = torch.stack([data[v] for v in scm.nodes], 1)
        torch.compiler.reset()
        paths = {
            "reference": "reference",
            "compiled": torch.compile(reference_mlp),
            "blocked": "blocked",
            "auto": "auto",
        }
        queries = {
            "NeuralSCM.counterfactual_rows, no autograd": functools.partial(scm.counterfactual_rows, table_rows, do),
            "cp.sample (records autograd)": functools.partial(cp.sample, scm, units, do=do, seed=0),
        }
        for label, query in queries.items():

            def run(path, query=query, label=label):
                with stacked_options(mlp=path), torch.set_grad_enabled("no autograd" not in label):
                    return query()

            t = _side_by_side({k: functools.partial(run, p) for k, p in paths.items()}, repeat=repeat)
            ms = [t[k] * 1e3 for k in paths]
            rows.append([label, activation, units, *ms, t["reference"] / t["blocked"], t["compiled"] / t["blocked"]])
    return rows


def _cache_rows(hiddens, units, repeat):
    """Part 2: each query with a cache and without it, on a 20-node tanh NeuralSCM per hidden."""
    rows = []

    def off(fn):
        def run():
            with stacked_options(groups=False):
                return fn()

        return run

    for hidden, n in itertools.product(hiddens, units):
        scm, data, do = _counterfactual_problem(hidden, "tanh", max(units))
        evidence, table_rows = {k: v[:n] for k, v in data.items()}, torch.stack([data[v][:n] for v in scm.nodes], 1)
        queries = {
            "cp.counterfactual": lambda m, ev=evidence, do=do: cp.counterfactual(m, ev, do, num_samples=1, seed=0),
            "cp.sample": lambda m, n=n, do=do: cp.sample(m, n, do=do, seed=0),
        }
        cases = {"NeuralSCM.counterfactual_rows": functools.partial(scm.counterfactual_rows, table_rows, do)}
        cases.update({label: functools.partial(q, scm) for label, q in queries.items()})
        for label, fn in cases.items():
            with torch.no_grad():
                t = _side_by_side({"with": fn, "without": off(fn)}, repeat=repeat * 4)
            rows.append(["gathers per node set", hidden, label, n, t["with"] * 1e3, t["without"] * 1e3])
        if hidden != hiddens[0]:
            continue

        def program():  # the same model as a plain Pyro program: no batched paths to take
            return scm()  # noqa: B023 - called within this iteration only

        for label, query in queries.items():  # a fresh program per call is never in the probe cache
            fns = {"with": functools.partial(query, program), "without": lambda q=query: q(functools.partial(program))}
            t = _side_by_side(fns, repeat=repeat)
            rows.append(["probe per model", hidden, label + " (Pyro path)", n, t["with"] * 1e3, t["without"] * 1e3])
    return [[*row, row[-1] / row[-2]] for row in rows]


def main(argv: list[str] | None = None) -> None:
    p = parser("cpu_paths", __doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--activations", default="tanh,silu,relu", help="MLP activations (comma-separated)")
    p.add_argument("--no-parts", action="store_true", help="skip the rows with one part switched off")
    p.add_argument("--skip-caches", action="store_true", help="only part 1")
    p.add_argument("--only", choices=("all", "conv"), default="all", help="conv: only the conv networks' rows")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float32)
    quick = args.quick
    body = [] if args.only == "conv" else _mlp_and_cache_parts(args)
    rows = conv_rows(quick, repeat=3 if quick else 15)
    body += [
        "\n## The convolutional image networks in row blocks\n",
        "`causalppl.nn.ConvDecoder` and `ConvEncoder` at the sizes of `causalppl bench morpho` (28x28, latent 16, "
        f"context 12, channels {(4, 8) if quick else (32, 64)}, head {(16,) if quick else (256,)}; float32): "
        "in one call (`row_block=None`), `torch.compile` "
        "of the one call, and in blocks of `row_block` images (the default). Forward without autograd (queries), "
        "forward + backward (fit steps; 128 is the fit's minibatch). Ratios: one call / blocked and compiled / "
        "blocked (above 1: the blocks pay).\n",
        table(CONV_HEADER, rows),
    ]
    write_results(
        args.out,
        "cpu_paths (CPU optimisations vs the plain reference and torch.compile)",
        "\n".join(body),
        argv if argv is not None else sys.argv[1:],
    )


def _mlp_and_cache_parts(args) -> list[str]:
    """Parts 1, 1b and 2 of the results file."""
    quick = args.quick
    sizes, batches = ((5,), (32, 64)) if quick else ((20, 50), (256, 4096))
    hidden = (8, 8) if quick else (64, 64)

    def repeat(batch):
        return 3 if quick else (41 if batch <= 256 else 15)

    rows, part_rows, names = _mlp_rows(sizes, batches, hidden, args.activations.split(","), repeat, not args.no_parts)
    body = [
        "## The stacked MLP: blocked path vs reference vs torch.compile (float32)\n",
        f"MLP inputs of a NeuralSCM over `tanh_anm(N)`, hidden {hidden}; ms are medians per call. "
        "Ratios: reference / blocked and compiled / blocked (above 1: the blocked path is faster). "
        "`used`: whether the package takes the blocked path at that shape.\n",
        table(_HEADER, rows),
    ]
    if part_rows:
        body += [
            "\n## Each part of the blocked path switched off\n",
            "Time with the part off / time with every part (above 1: the part pays; `-`: not applicable).\n",
            table(["activation", "nodes", "batch", "mode", "blocked ms", *(f"without {n}" for n in names)], part_rows),
        ]
    n_units = 64 if quick else 4096
    rows = _query_rows(args.activations.split(","), n_units, repeat=5 if quick else 21)
    body += [
        "\n## The stacked MLP inside whole queries\n",
        f"`causalppl bench neural_scm`'s counterfactual model (`tanh_anm(20, seed=0)`, hidden (32, 32)), "
        f"{n_units} units, the stacked MLP switched with `causalppl.scm.fast.stacked_options(mlp=...)`: one "
        "call per topological level (1-8 nets). `auto` is the package's choice per call. Ratios: reference / "
        "blocked and compiled / blocked.\n",
        table(
            ["query", "activation", "units", "reference ms", "compiled ms", "blocked ms", "auto ms"]
            + ["vs reference", "vs compiled"],
            rows,
        ),
    ]
    if not args.skip_caches:
        units = (1, 64) if quick else (1, 4096)
        rows = _cache_rows([hidden] if quick else [hidden, (32, 32)], units, repeat=5 if quick else 31)
        body += [
            "\n## Query-level caches\n",
            "A 20-node tanh NeuralSCM over `tanh_anm(20, seed=0)`, do on the two nodes with the most "
            "descendants (hidden (32, 32): the model of `causalppl bench neural_scm`'s counterfactuals): "
            "its gathers per node set (`causalppl.scm.fast.stacked_options`) on its "
            "batched paths, without autograd; the per-model probe cache (`causalppl.program.probe`) with the "
            "same model called as a plain Pyro program (so that the queries take the Pyro path), where a fresh "
            "function object per call is never in the cache. `num_samples=1`. Ratio: time without the cache / "
            "time with it (above 1: the cache pays). The NeuralSCM's caches of descendants and level plans per "
            "target set were measured the same way at 0.95x-1.06x and removed.\n",
            table(["cache", "hidden", "query", "units", "with ms", "without ms", "ratio"], rows),
        ]
    return body
