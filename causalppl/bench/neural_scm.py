"""``causalppl bench neural_scm``: NeuralSCM fast paths against the Pyro trace and DoWhy gcm.

Part 1: batched ``log_prob`` (forward + backward, what :func:`causalppl.fit` runs per
step) against the per-site Pyro trace of the same NeuralSCM (conditioned program,
``log_prob_sum``, backward), on random DAGs of 20 and 50 nodes, batch 256 and 4,096,
hidden (64, 64). Part 2: a known 20-node tanh additive-noise SCM
(:func:`causalppl.datasets.tanh_anm`), 20,000 training rows, counterfactuals of 4,096
observed units under ``do`` on 2 nodes, side by side with DoWhy's gcm (automatic
mechanism assignment, and an MLP(32, 32) regressor per node): fit time, counterfactual
RMSE against the true counterfactuals, throughput, and the latency of a one-unit query.

DoWhy is never a dependency of causalppl: part 2 runs gcm in whichever interpreter has
it, this one or ``.venv-bench/bin/python`` (``--dowhy-python`` to choose), through
:mod:`causalppl.bench._dowhy_gcm`, exchanging data in ``.npz`` files.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyro
import pyro.poutine as poutine
import torch

from ..datasets import tanh_anm
from ..inference import fit
from ..scm import NeuralSCM
from ..scm.fast import encode_all, log_prob_encoded
from ._harness import measure, measure_side_by_side, parser, table, write_results

__all__ = ["main"]


def _timings(scm, data, batch, repeat):
    """Median seconds of (fast, scm.log_prob, Pyro trace), each forward + backward."""
    X = encode_all(scm, data)

    def fast():
        scm.zero_grad(set_to_none=True)
        (-log_prob_encoded(scm, X, {}).sum()).backward()

    def public():
        scm.zero_grad(set_to_none=True)
        (-scm.log_prob(data).sum()).backward()

    def trace():
        scm.zero_grad(set_to_none=True)
        with pyro.plate("unit", batch):
            tr = poutine.trace(poutine.condition(scm, data)).get_trace()
        (-tr.log_prob_sum()).backward()

    t = measure_side_by_side({"fast": fast, "public": public, "trace": trace}, repeat=repeat)
    return t["fast"], t["public"], t["trace"]


def _logprob_rows(sizes, batches, hidden, activations, repeat):
    rows = []
    for activation, n_nodes in itertools.product(activations, sizes):
        truth = tanh_anm(n_nodes, seed=n_nodes)
        torch.manual_seed(0)
        scm = NeuralSCM(truth.graph, hidden=hidden, activation=activation)
        for batch in batches:
            data = {k: v.to(torch.get_default_dtype()) for k, v in truth.sample(batch, seed=1).items()}
            scm.set_standardization(data)
            t_fast, t_public, t_trace = _timings(scm, data, batch, repeat)
            rows.append(
                [
                    activation,
                    n_nodes,
                    batch,
                    t_trace * 1e3,
                    t_fast * 1e3,
                    t_trace / t_fast,
                    t_public * 1e3,
                    t_trace / t_public,
                ]
            )
    return rows


def _dowhy_python(choice: str | None) -> str | None:
    if choice:
        return choice
    if importlib.util.find_spec("dowhy") is not None:
        return sys.executable
    venv = os.path.join(os.getcwd(), ".venv-bench", "bin", "python")
    return venv if os.path.exists(venv) else None


def _problem(num_nodes, n_train, n_units):
    truth = tanh_anm(num_nodes, seed=0)
    train = truth.sample(n_train, seed=1)
    evidence = truth.sample(n_units, seed=2)
    targets = sorted(truth.nodes, key=lambda v: (-len(truth.graph.descendants(v)), v))[:2]
    do = {t: float(train[t].mean() + sign * train[t].std()) for t, sign in zip(targets, (1.0, -1.0))}
    cf_true = truth.counterfactual(evidence, do)
    changed = sorted(set().union(*(truth.graph.descendants(t) for t in targets)) - set(targets))
    sd = {v: float(train[v].std()) for v in truth.nodes}
    return truth, train, evidence, do, cf_true, changed, sd


def _rmse(cf, cf_true, changed, sd) -> float:
    """RMSE over units of (estimate - truth) / sd(node), averaged over the changed nodes."""
    return float(
        np.mean([np.sqrt(np.mean((np.asarray(cf[v]) - np.asarray(cf_true[v])) ** 2)) / sd[v] for v in changed])
    )


def _ours(truth, train, evidence, do, cf_true, changed, sd, hidden, activation, steps, repeat):
    torch.manual_seed(0)
    dtype = torch.float32
    scm = NeuralSCM(truth.graph, hidden=hidden, activation=activation).to(dtype)
    train32 = {k: v.to(dtype) for k, v in train.items()}
    _warm_up_optimiser()
    start = time.perf_counter()
    history = fit(scm, train32, steps=steps, lr=2e-2, batch_size=512, seed=0, progress=False)
    fit_s = time.perf_counter() - start
    rows = torch.stack([evidence[v].to(dtype) for v in scm.nodes], 1)
    with torch.no_grad():
        cf_rows = scm.counterfactual_rows(rows, do)
        batch_s = measure(lambda: scm.counterfactual_rows(rows, do), repeat=repeat, min_time=0.2)
        one_s = measure(lambda: scm.counterfactual_rows(rows[:1], do), repeat=repeat, min_time=0.2)
    cf = {v: cf_rows[:, i].double().numpy() for i, v in enumerate(scm.nodes)}
    return dict(
        fit_s=fit_s,
        rmse=_rmse(cf, cf_true, changed, sd),
        cf_s=batch_s,
        single_s=one_s,
        steps=int(history.step.values[-1]),
    )


def _warm_up_optimiser() -> None:
    """Adam's first step imports ``torch._dynamo`` (about 1.5 s, once per process). gcm's fit
    time is also taken after its imports, so ours is too."""
    p = torch.nn.Parameter(torch.zeros(1))
    p.grad = torch.zeros(1)
    torch.optim.Adam([p]).step()


def _gcm(python, truth, train, evidence, do, cf_true, changed, sd, quick):
    names = truth.nodes
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(
            inp,
            names=np.array(names),
            edges=np.array(truth.graph.edges).reshape(-1, 2),
            train=np.stack([train[v].numpy() for v in names], 1),
            evidence=np.stack([evidence[v].numpy() for v in names], 1),
            do_nodes=np.array(list(do)),
            do_values=np.array(list(do.values())),
        )
        env = dict(
            os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()), MKL_NUM_THREADS=str(torch.get_num_threads())
        )
        subprocess.run([python, "-m", "causalppl.bench._dowhy_gcm", inp, out], check=True, env=env)
        res = dict(np.load(out, allow_pickle=False))
    rows = {}
    for kind in ("auto", "mlp"):
        cf = {v: res[f"{kind}_cf"][:, i] for i, v in enumerate(names)}
        rows[kind] = dict(
            fit_s=float(res[f"{kind}_fit_s"]),
            rmse=_rmse(cf, cf_true, changed, sd),
            cf_s=float(res[f"{kind}_cf_s"]),
            single_s=float(res[f"{kind}_single_s"]),
        )
    return rows, [str(s) for s in res["auto_summary"]]


def main(argv: list[str] | None = None) -> None:
    p = parser("neural_scm", __doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--skip-dowhy", action="store_true", help="only part 1")
    p.add_argument("--dowhy-python", default=None, help="interpreter with dowhy (default: this or .venv-bench)")
    p.add_argument("--activations", default="tanh,silu", help="activations of our MLPs (comma-separated)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float32)
    quick = args.quick
    sizes, batches = ((5, 8), (64, 256)) if quick else ((20, 50), (256, 4096))
    hidden = (8, 8) if quick else (64, 64)
    activations = args.activations.split(",")
    rows = _logprob_rows(sizes, batches, hidden, activations, repeat=3 if quick else 15)
    body = [
        "## Batched log_prob vs the per-site Pyro trace (forward + backward, float32)\n",
        f"Random DAGs from `tanh_anm(N)` (at most 3 parents per node), additive mechanisms, hidden {hidden}. "
        "`fast` is the fit step's call (pre-encoded rows); `scm.log_prob` adds the checks and encoding "
        "of a dict of columns. Times are medians per call, the three contenders timed round-robin so that "
        "load from other processes hits them alike. The fast path removes Pyro's per-site overhead and "
        "evaluates every node's MLP in one stacked call; on a CPU that call runs through "
        "`causalppl.mechanisms.blocked_mlp` (a hand-written backward, row blocks that fit in L2, the narrow "
        "output layer computed transposed, tanh as 2 sigmoid(2x) - 1, saved activations in leased buffers) "
        "where it beat the autograd reference, which runs otherwise, by 1.3x (`causalppl bench cpu_paths`): "
        "tanh at every batch here, silu at 4,096 rows, not at 256, where the autograd reference runs. Root "
        "nodes are evaluated on one row in both paths.\n",
        table(["activation", "nodes", "batch", "Pyro trace ms", "fast ms", "ratio", "scm.log_prob ms", "ratio"], rows),
    ]
    n_units = 64 if quick else 4096
    problem = _problem(8 if quick else 20, 2000 if quick else 20000, n_units)
    ours_hidden = (16,) if quick else (32, 32)
    ours, table_rows = {}, []
    for activation in activations:
        r = _ours(
            *problem, hidden=ours_hidden, activation=activation, steps=50 if quick else 400, repeat=2 if quick else 7
        )
        ours[activation] = r
        label = f"causalppl NeuralSCM (additive, MLP {ours_hidden}, {activation}; {r['steps']} Adam steps of 512 rows)"
        table_rows.append([label, r["fit_s"], r["rmse"], n_units / r["cf_s"], r["single_s"] * 1e3])
    python = None if args.skip_dowhy else _dowhy_python(args.dowhy_python)
    note = ""
    if python is None:
        note = (
            "\nDoWhy gcm was not run: dowhy is not importable here and there is no .venv-bench "
            "(`python -m venv .venv-bench && .venv-bench/bin/pip install dowhy -e .`).\n"
        )
    else:
        gcm_rows, summary = _gcm(python, *problem, quick)
        for kind, label in (("auto", "DoWhy gcm, auto assignment (GOOD)"), ("mlp", "DoWhy gcm, MLP(32, 32) ANM")):
            r = gcm_rows[kind]
            table_rows.append([label, r["fit_s"], r["rmse"], n_units / r["cf_s"], r["single_s"] * 1e3])
        a, m = gcm_rows["auto"], gcm_rows["mlp"]
        lines = []
        for activation, r in ours.items():
            lines.append(
                f"- ours ({activation}) / gcm: throughput x{a['cf_s'] / r['cf_s']:.1f} vs auto, "
                f"x{m['cf_s'] / r['cf_s']:.1f} vs MLP; fit time x{r['fit_s'] / a['fit_s']:.2f} of "
                f"auto's, x{r['fit_s'] / m['fit_s']:.2f} of MLP's; one-unit latency "
                f"x{a['single_s'] / r['single_s']:.0f} lower than auto's, "
                f"x{m['single_s'] / r['single_s']:.0f} lower than MLP's"
            )
        note = "\n" + "\n".join(lines) + f"\n\ngcm auto assigned: {', '.join(summary)}.\n"
    body += [
        f"\n## Counterfactuals on a known {len(problem[0].nodes)}-node tanh ANM, side by side with DoWhy gcm\n",
        f"`tanh_anm({len(problem[0].nodes)}, seed=0)`, {len(problem[1]['x0'])} training rows, "
        f"{n_units} observed units, "
        f"do on {list(problem[3])} (mean +/- 1 sd). RMSE: per changed node ({len(problem[5])} nodes "
        "downstream of the targets), the root-mean-square error against the true counterfactual in units "
        "of the node's sd, averaged over nodes. Throughput: units per second of one batched query; "
        "latency: one unit, one query call. Ours: float32, `NeuralSCM.counterfactual_rows` on a tensor of rows.\n",
        table(["model", "fit s", "cf RMSE (sd)", "cf units/s", "one-unit ms"], table_rows),
        note,
    ]
    write_results(
        args.out,
        "neural_scm (NeuralSCM fast paths vs the Pyro trace and DoWhy gcm)",
        "\n".join(body),
        argv if argv is not None else sys.argv[1:],
    )
