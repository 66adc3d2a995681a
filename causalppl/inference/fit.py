"""``fit``: learn a causal model's mechanisms from data.

Fully observed rows of a model with batched paths (a :class:`~causalppl.NeuralSCM`):
maximum likelihood through its batched ``log_prob``. Latent sites, or any other Pyro
program (e.g. one whose mechanisms are ``PyroModule``\\ s): stochastic variational
inference, ``Trace_ELBO`` with an ``AutoNormal`` guide over the unobserved sites. Either way: minibatches, Adam with a
cosine learning-rate schedule, gradient clipping, early stopping on a held-out split
(restoring the best parameters), NaN detection, a progress bar on a terminal.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Iterable

import numpy as np
import torch
import xarray as xr

from .. import checks
from ..errors import CausalError
from ..rng import seeded
from .objectives import make_objective

__all__ = ["fit"]


def fit(
    model,
    data,
    *,
    guide=None,
    steps: int = 2000,
    lr: float = 1e-2,
    batch_size: int = 1024,
    seed: int | None = None,
    latent: Iterable[str] = (),
    holdout: float = 0.1,
    eval_every: int | None = None,
    patience: int = 10,
    early_stopping: bool | None = None,
    clip_norm: float | None = 10.0,
    schedule: str = "cosine",
    min_lr_ratio: float = 0.02,
    weight_decay: float = 0.0,
    ignore_extra: bool = False,
    num_particles: int = 32,
    progress: bool | None = None,
) -> xr.Dataset:
    """Fit ``model``'s parameters to ``data``; returns the training history.

    Args:
        model: a :class:`~causalppl.scm.NeuralSCM`, or a Pyro program describing one
            unit whose parameters live in ``pyro.param`` / ``PyroModule``\\ s.
        data: ``{site: tensor [n, ...]}``, a pandas DataFrame or an xarray Dataset
            (rows along the first dim).
        guide: an amortised guide for the model's latent sites: a Pyro program that takes
            the observed sites as keyword arguments (tensors with a leading unit dim) and
            samples every latent site (a method or module: its parameters are trained with
            the model's). The held-out loss is then the negative importance-weighted bound
            with ``num_particles`` guide draws per row, and early stopping is on by default.
        steps: optimisation steps (minibatches).
        lr: Adam's initial learning rate.
        batch_size: rows per step (all rows when larger).
        seed: seeds the split, minibatches and any sampling; ``None`` (default) draws from
            torch's global generator, so repeated fits differ unless seeded.
        latent: nodes of a NeuralSCM missing from ``data`` on purpose (inferred by SVI).
            Unobserved sites of a plain program are latent automatically.
        holdout: fraction of rows held out for early stopping (0 disables it).
        eval_every: steps between held-out evaluations (default ``max(1, steps // 50)``).
        patience: evaluations without improvement before stopping early.
        early_stopping: stop when the held-out loss stops improving and restore the
            best parameters. Default: on for maximum likelihood, off for SVI, whose
            held-out estimate (importance sampling from the prior) is biased upwards more
            and more as latent posteriors sharpen, so it would stop too soon.
        clip_norm: gradient-norm clipping, a positive number (``None``: off).
        schedule: ``"cosine"`` (to ``min_lr_ratio * lr``, a ratio in [0, 1]) or ``"constant"``.
        ignore_extra: drop data columns that are not sites instead of raising.
        num_particles: prior particles per held-out row when estimating the held-out
            log-likelihood with latent sites.
        progress: show a progress bar (default: when stderr is a terminal).

    Returns:
        Dataset with dim ``"step"`` (one entry per evaluation): ``train_loss`` (mean
        negative log-likelihood, or negative ELBO, per row since the last entry),
        ``heldout_loss`` (negative log-likelihood per held-out row) and ``lr``, plus
        ``heldout_rows`` (dim ``"heldout"``: which data rows were held out); attrs
        ``method`` (``"mle"``/``"svi"``), ``best_step``, ``stopped_early``, ``seconds``.

    Raises:
        CausalError: bad data (naming the column) or arguments, or a loss that became
            NaN/inf (naming the step).

    Example:
        >>> import torch
        >>> from causalppl.scm import NeuralSCM
        >>> from causalppl.inference import fit
        >>> torch.manual_seed(0)
        <torch._C.Generator object at ...>
        >>> x = torch.randn(500)
        >>> data = {"x": x, "y": 2 * x + 0.1 * torch.randn(500)}
        >>> scm = NeuralSCM({"x": [], "y": ["x"]}, hidden=())
        >>> history = fit(scm, data, steps=300, lr=0.05, progress=False)
        >>> history.heldout_loss.dims, bool(history.heldout_loss[-1] < history.heldout_loss[0])
        (('step',), True)
    """
    checks.model(model)
    eval_every = _check_args(
        steps=steps,
        lr=lr,
        batch_size=batch_size,
        holdout=holdout,
        eval_every=eval_every,
        patience=patience,
        clip_norm=clip_norm,
        schedule=schedule,
        min_lr_ratio=min_lr_ratio,
        weight_decay=weight_decay,
        num_particles=num_particles,
        seed=seed,
        progress=progress,
        early_stopping=early_stopping,
    )
    latent = _names(latent, "latent")
    with seeded(seed):
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, ()).item()))
        objective = make_objective(
            model, data, guide=guide, latent=latent, ignore_extra=ignore_extra, num_particles=num_particles
        )
        try:
            if early_stopping is None:
                early_stopping = objective.method == "mle" or guide is not None
            return _optimise(
                objective,
                steps=steps,
                lr=lr,
                batch_size=batch_size,
                holdout=holdout,
                eval_every=eval_every,
                patience=patience if early_stopping else None,
                clip_norm=clip_norm,
                schedule=schedule,
                min_lr_ratio=min_lr_ratio,
                weight_decay=weight_decay,
                progress=sys.stderr.isatty() if progress is None else progress,
                generator=generator,
            )
        finally:
            objective.close()


def _check_args(
    *,
    steps,
    lr,
    batch_size,
    holdout,
    eval_every,
    patience,
    clip_norm,
    schedule,
    min_lr_ratio,
    weight_decay,
    num_particles,
    seed,
    progress,
    early_stopping,
) -> int:
    """Every optimiser argument through the one checker; returns ``eval_every``."""
    for name, v in (
        ("steps", steps),
        ("batch_size", batch_size),
        ("patience", patience),
        ("num_particles", num_particles),
    ):
        checks.positive_int(v, name)
    checks.positive_number(lr, "lr")
    checks.fraction(holdout, "holdout")
    if clip_norm is not None:
        checks.positive_number(clip_norm, "clip_norm")
    checks.choice(schedule, "schedule", ("cosine", "constant"))
    checks.probability(min_lr_ratio, "min_lr_ratio")
    checks.nonnegative_number(weight_decay, "weight_decay")
    checks.seed(seed)
    for name, flag in (("progress", progress), ("early_stopping", early_stopping)):
        if flag is not None:
            checks.boolean(flag, name)
    return max(1, steps // 50) if eval_every is None else checks.positive_int(eval_every, "eval_every")


def _names(names, argument: str) -> list[str]:
    try:
        return checks.names(names, argument)
    except CausalError as err:  # the same check, worded for sites
        raise CausalError(f"{argument} must be a list of distinct site names, got {names!r}") from err


def _optimise(
    objective,
    *,
    steps,
    lr,
    batch_size,
    holdout,
    eval_every,
    patience,
    clip_norm,
    schedule,
    min_lr_ratio,
    weight_decay,
    progress,
    generator,
):
    n = objective.num_rows
    perm = torch.randperm(n, generator=generator)
    n_held = int(round(holdout * n)) if n >= 20 else 0
    held, train = perm[:n_held], perm[n_held:]
    objective.setup(train, held)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Encountered NaN", category=UserWarning)
        params = objective.parameters()
    optim = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optim, T_max=steps, eta_min=lr * min_lr_ratio)
        if schedule == "cosine"
        else None
    )
    from tqdm.auto import tqdm

    bar = tqdm(total=steps, disable=not progress, desc="fit", leave=False)
    record = {"step": [], "train_loss": [], "heldout_loss": [], "lr": []}
    best, best_step, best_state, bad, running, count = math.inf, 0, None, 0, 0.0, 0
    order, cursor = torch.randperm(len(train), generator=generator), 0
    stopped, start = False, time.perf_counter()
    try:
        for step in range(1, steps + 1):
            if len(train) <= batch_size:
                rows = torch.arange(len(train))
            else:
                if cursor + batch_size > len(train):
                    order, cursor = torch.randperm(len(train), generator=generator), 0
                rows = order[cursor : cursor + batch_size]
                cursor += batch_size
            optim.zero_grad(set_to_none=True)
            with warnings.catch_warnings():
                # Pyro warns about a NaN log-density; the check below turns it into an error.
                warnings.filterwarnings("ignore", message="Encountered NaN", category=UserWarning)
                loss = objective.loss(rows)
            if not torch.isfinite(loss):
                where = objective.culprit(rows)
                raise CausalError(
                    f"the training loss became {float(loss.detach())} at step {step}"
                    + (f" (first non-finite: {where})" if where else "")
                    + f"; lower lr (now {optim.param_groups[0]['lr']:.3g}), standardise the data, or check the model"
                )
            loss.backward()
            if clip_norm is not None:
                norm = torch.nn.utils.clip_grad_norm_(params, clip_norm)
                if not torch.isfinite(norm):
                    raise CausalError(f"the gradient became NaN/inf at step {step}; lower lr or check the model")
            optim.step()
            running, count = running + float(loss.detach()), count + 1
            if sched is not None:
                sched.step()
            if step % eval_every == 0 or step == steps:
                held_loss = objective.heldout_loss() if n_held else math.nan
                record["step"].append(step)
                record["train_loss"].append(running / count)
                record["heldout_loss"].append(held_loss)
                record["lr"].append(optim.param_groups[0]["lr"])
                running, count = 0.0, 0
                bar.set_postfix(train=f"{record['train_loss'][-1]:.4g}", heldout=f"{held_loss:.4g}")
                if n_held and patience is not None:
                    # Patience counts evaluations without a real improvement (beyond 1e-4 relative);
                    # the parameters kept are those of the lowest held-out loss, however small its lead.
                    bad = (
                        0 if held_loss < best - 1e-4 * max(1.0, abs(best) if math.isfinite(best) else 1.0) else bad + 1
                    )
                    if held_loss < best:
                        best, best_step = held_loss, step
                        best_state = [p.detach().clone() for p in params]
                    if bad >= patience:
                        stopped = True
                        break
            bar.update(1)
    finally:
        bar.close()
    if best_state is not None:
        with torch.no_grad():
            for p, b in zip(params, best_state):
                p.copy_(b)
    variables = {k: ("step", np.asarray(v, dtype=float)) for k, v in record.items() if k != "step"}
    variables["heldout_rows"] = ("heldout", held.numpy().astype(np.int64))
    return xr.Dataset(
        variables,
        coords={"step": np.asarray(record["step"], dtype=np.int64)},
        attrs={
            "method": objective.method,
            "best_step": int(best_step if best_state is not None else record["step"][-1]),
            "stopped_early": int(stopped),
            "n_train": int(len(train)),
            "n_heldout": int(n_held),
            "seconds": time.perf_counter() - start,
        },
    )
