"""DoWhy gcm side of ``causalppl bench neural_scm`` (run in the interpreter that has dowhy).

Usage: ``python -m causalppl.bench._dowhy_gcm IN.npz OUT.npz``. Reads the training rows,
the graph, the counterfactual evidence and the interventions written by
:mod:`causalppl.bench.neural_scm`; fits gcm's invertible SCM twice (automatic mechanism
assignment, and an additive-noise MLP(32, 32) per non-root node); writes the fit times,
the counterfactual predictions, their throughput and the latency of a one-unit query.
Imports only numpy, pandas, networkx and dowhy, never torch.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

__all__ = ["run"]


def _model(kind, graph, frame):
    from dowhy import gcm
    from dowhy.gcm.ml import SklearnRegressionModel
    from sklearn.neural_network import MLPRegressor

    scm = gcm.InvertibleStructuralCausalModel(graph)
    if kind == "auto":
        gcm.auto.assign_causal_mechanisms(scm, frame, quality=gcm.auto.AssignmentQuality.GOOD)
        return scm
    for node in graph.nodes:
        if graph.in_degree(node) == 0:
            scm.set_causal_mechanism(node, gcm.EmpiricalDistribution())
        else:
            mlp = MLPRegressor(hidden_layer_sizes=(32, 32), max_iter=200, early_stopping=True, random_state=0)
            scm.set_causal_mechanism(node, gcm.AdditiveNoiseModel(SklearnRegressionModel(mlp)))
    return scm


def run(inp: str, out: str) -> None:
    import networkx as nx
    import pandas as pd
    from dowhy import gcm

    gcm.config.disable_progress_bars()
    data = np.load(inp, allow_pickle=False)
    names = [str(n) for n in data["names"]]
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    graph.add_edges_from((str(a), str(b)) for a, b in data["edges"])
    frame = pd.DataFrame(data["train"], columns=names)
    evidence = pd.DataFrame(data["evidence"], columns=names)
    targets = [str(t) for t in data["do_nodes"]]
    values = [float(v) for v in data["do_values"]]
    interventions = {t: (lambda x, v=v: v) for t, v in zip(targets, values)}
    results = {}
    for kind in ("auto", "mlp"):
        scm = _model(kind, graph, frame)
        start = time.perf_counter()
        gcm.fit(scm, frame)
        results[f"{kind}_fit_s"] = time.perf_counter() - start
        start = time.perf_counter()
        cf = gcm.counterfactual_samples(scm, interventions, observed_data=evidence)
        results[f"{kind}_cf_s"] = time.perf_counter() - start
        results[f"{kind}_cf"] = cf[names].to_numpy()
        one = evidence.iloc[:1]
        times = []
        for _ in range(20):
            start = time.perf_counter()
            gcm.counterfactual_samples(scm, interventions, observed_data=one)
            times.append(time.perf_counter() - start)
        results[f"{kind}_single_s"] = statistics.median(times)
        if kind == "auto":
            results["auto_summary"] = np.array(
                sorted({type(scm.causal_mechanism(n)).__name__ + ":" + _regressor(scm, n) for n in names})
            )
    np.savez(out, **{k: np.asarray(v) for k, v in results.items()})


def _regressor(scm, node) -> str:
    mech = scm.causal_mechanism(node)
    model = getattr(mech, "prediction_model", None)
    inner = getattr(model, "sklearn_model", model)
    return type(inner).__name__ if inner is not None else "-"


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
