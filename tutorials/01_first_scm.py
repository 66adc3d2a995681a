# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A Pyro program is a causal model
#
# A structural causal model (SCM) says how each variable is produced from its causes and
# some noise of its own. A Pyro program already says exactly that:
#
# ```python
# y = pyro.sample("y", dist.Normal(2 * t + 3 * z, 1.0))
# ```
#
# reads as the structural equation $y := 2t + 3z + U_y$ with $U_y \sim N(0, 1)$.
# causalppl takes ordinary Pyro programs like this one and answers causal questions
# about them. This tutorial covers:
#
# 1. reading the causal graph of a program,
# 2. intervening with `cp.do`, and how an intervention cuts the graph,
# 3. observing with `cp.condition`,
# 4. why *seeing* $t = 1$ and *doing* $t = 1$ give different answers when there is a
#    confounder.
#
# Every number below is checked against its closed form by an `assert`, so running this
# file is also a test.

# %%
import os
import tempfile
import warnings

import numpy as np
import pyro
import pyro.distributions as dist
import torch

import causalppl as cp
from causalppl.graph import has_dot

torch.set_default_dtype(torch.float64)
# CAUSALPPL_SMOKE=1 shrinks every sample count so the tests run this file in seconds.
SMOKE = os.environ.get("CAUSALPPL_SMOKE", "0") == "1"
N = 20_000 if SMOKE else 400_000
N_IMPORTANCE = 500 if SMOKE else 4_000  # Pyro's Importance runs the model once per sample

# %% [markdown]
# ## The model
#
# A treatment `t` and an outcome `y` share a common cause `z` (a confounder: think of `z`
# as how ill a patient is, which drives both the dose they get and how they fare).
#
# $$z := U_z,\qquad t := a z + U_t,\qquad y := b t + c z + U_y,\qquad U_\cdot \sim N(0, 1).$$
#
# The causal effect of `t` on `y` is $b$. We write the SCM as a plain Pyro program.

# %%
A, B, C = 1.0, 2.0, 3.0  # z -> t, t -> y (the causal effect), z -> y


def model():
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    t = pyro.sample("t", dist.Normal(A * z, 1.0))
    return pyro.sample("y", dist.Normal(B * t + C * z, 1.0))


# %% [markdown]
# ## 1. The graph is read from the program
#
# `cp.graph` runs the program once and records which sampled values each distribution's
# parameters were computed from. No graph is declared anywhere: it *is* the program.

# %%
g = cp.graph(model)
print("nodes:", g.nodes)
print("edges:", g.edges)
assert g.nodes == ["z", "t", "y"]
assert set(g.edges) == {("z", "t"), ("z", "y"), ("t", "y")}
assert sorted(g.parents("y")) == ["t", "z"]

# %% [markdown]
# `to_dot()` gives Graphviz source and needs nothing installed; `render()` draws it when
# Graphviz's `dot` binary is present. In a notebook, a graph displays itself.

# %%
print(g.to_dot())
if has_dot():
    svg = g.render(os.path.join(tempfile.mkdtemp(), "confounded"), format="svg")
    assert os.path.getsize(svg) > 0
g

# %% [markdown]
# ## 2. `do` replaces a mechanism
#
# `cp.do(model, {"t": 1.0})` is the same program with `t`'s equation replaced by the
# constant 1. Nothing upstream decides `t` any more, so the graph of the intervened
# program has no edges into `t` (it is *mutilated*); intervened nodes are drawn as boxes.

# %%
g_do = cp.graph(cp.do(model, {"t": 1.0}))
print("edges under do(t=1):", g_do.edges)
assert g_do.parents("t") == []
assert set(g_do.edges) == {("z", "y"), ("t", "y")}
assert g_do == g.mutilate(["t"])
g_do

# %% [markdown]
# Like every `pyro.poutine` handler, `cp.do` works as a wrapper and as a context
# manager, and it composes with Pyro's own handlers:

# %%
with cp.do(actions={"t": 1.0}):
    trace = pyro.poutine.trace(model).get_trace()
assert float(trace.nodes["t"]["value"]) == 1.0

# %% [markdown]
# Plain `pyro.poutine.do` silently ignores a site name the program never samples, which
# turns a typo into a wrong answer. causalppl refuses:

# %%
try:
    cp.do(model, {"T": 1.0})()
except cp.CausalError as err:
    print(type(err).__name__, "-", err)
    assert "'T'" in str(err) and "'t'" in str(err)
else:
    raise AssertionError("a misspelled site must raise")

# %% [markdown]
# ## 3. `condition` observes a value
#
# `cp.condition(model, {"t": 1.0})` keeps every mechanism and *observes* `t = 1`. The
# graph is unchanged (an observation cuts no edge); what changes is what we believe about
# `t`'s causes. The conditioned program is an ordinary Pyro model, so any Pyro inference
# runs on it. Here: importance sampling for the posterior of `y` given `t = 1`.

# %%
conditioned = cp.condition(model, {"t": torch.tensor(1.0)})
assert cp.graph(conditioned) == g

pyro.set_rng_seed(0)
posterior = pyro.infer.Importance(conditioned, guide=None, num_samples=N_IMPORTANCE).run()
y_given_t_importance = float(pyro.infer.EmpiricalMarginal(posterior, "y").mean)
ess = float(posterior.get_ESS())

# %% [markdown]
# ## 4. Seeing is not doing
#
# **Closed form.** Because $z$ drives $t$, observing $t = 1$ also says something about $z$:
# $E[z \mid t] = \frac{a}{a^2 + 1} t$. So
#
# $$E[y \mid t = 1] = b + c\,\frac{a}{a^2 + 1} = 3.5, \qquad
#   E[y \mid do(t = 1)] = b + c\,E[z] = 2.$$
#
# Conditioning mixes the effect of `t` with the evidence `t` carries about `z`;
# intervening does not, because under `do` the value of `t` says nothing about `z`.

# %%
var_t = A**2 + 1.0
exact_seeing = B + C * A / var_t
exact_doing = B

# %% [markdown]
# **Monte Carlo.** `cp.sample` draws joint samples as an `xarray.Dataset` (one variable
# per site, a `sample` dim). We estimate $E[y \mid t = 1]$ three ways: from the samples
# whose `t` falls in a narrow window around 1, from the least-squares line of `y` on `t`,
# and by the importance sampler above. $E[y \mid do(t = 1)]$ comes from sampling the
# intervened program, and `cp.effect` gives the average causal effect
# $E[y \mid do(t = 1)] - E[y \mid do(t = 0)]$.

# %%
obs = cp.sample(model, num_samples=N, seed=0)
print(obs)
t, y = obs.t.values, obs.y.values
near = np.abs(t - 1.0) < 0.05
seeing_window = y[near].mean()
se_window = y[near].std() / np.sqrt(near.sum())
slope, intercept = np.polyfit(t, y, 1)
seeing_line = slope * 1.0 + intercept

intervened = cp.sample(model, num_samples=N, do={"t": 1.0}, seed=1)
doing = float(intervened.y.mean())
se_doing = float(intervened.y.std()) / np.sqrt(N)
ace = cp.effect(model, "y", do={"t": 1.0}, baseline={"t": 0.0}, num_samples=N, seed=2)

rows = [
    ("E[y | t=1], window", exact_seeing, seeing_window),
    ("E[y | t=1], regression line", exact_seeing, seeing_line),
    ("E[y | t=1], importance", exact_seeing, y_given_t_importance),
    ("E[y | do(t=1)], cp.sample", exact_doing, doing),
    ("ACE, cp.effect", B, ace),
]
print(f"{'quantity':32s} {'closed form':>12s} {'Monte Carlo':>12s}")
for name, exact, estimate in rows:
    print(f"{name:32s} {exact:12.3f} {estimate:12.3f}")
print(f"({near.sum()} samples in the window; importance ESS {ess:.0f})")

# %% [markdown]
# The checks use each estimate's own standard error where it has a simple one:

# %%
assert abs(seeing_window - exact_seeing) < 5 * se_window + 0.02  # + the window's own bias
assert abs(seeing_line - exact_seeing) < 0.1
assert abs(y_given_t_importance - exact_seeing) < 5 * np.sqrt(5.5 / ess)  # Var[y | t] = 5.5
assert abs(doing - exact_doing) < 5 * se_doing
# Both arms of cp.effect share their noise (common random numbers), so y is linear in t
# with the same z and U_y in both: the difference is b up to rounding.
assert abs(ace - B) < 1e-9
# And the headline: the two answers really differ.
assert seeing_line - doing > 1.0

# %% [markdown]
# ## Adjusting for the confounder
#
# The causal effect is visible in observational data once the confounder is held fixed
# (the back-door adjustment): the coefficient of `t` in a regression of `y` on both `t`
# and `z` is $b$, not the $3.5$ of the regression on `t` alone.

# %%
design = np.column_stack([t, obs.z.values, np.ones_like(t)])
coef_t, coef_z, _ = np.linalg.lstsq(design, y, rcond=None)[0]
print(f"y ~ t + z: coefficient of t = {coef_t:.3f} (closed form {B}), of z = {coef_z:.3f} ({C})")
assert abs(coef_t - B) < 0.05 and abs(coef_z - C) < 0.05

# %% [markdown]
# ## Functional interventions
#
# An intervention can also be a function of the value the mechanism would have produced:
# `do(t := t + 1)` shifts every unit's treatment by one. In this linear model, the
# outcome moves by exactly $b$.

# %%
shift = cp.effect(model, "y", do={"t": lambda t: t + 1.0}, baseline={}, num_samples=N, seed=3)
print(f"E[y | do(t := t + 1)] - E[y] = {shift:.6f} (closed form {B})")
assert abs(shift - B) < 1e-9

# %% [markdown]
# ## Where an intervention extrapolates
#
# `do(t = 1)` sets every unit's treatment to 1, including units whose confounder makes
# `t = 1` something their own mechanism almost never produces: `t` given `z` is
# $N(a z, 1)$, so for a unit with $z = -2$ the value 1 lies 3 sd away. A model fitted to
# data has never seen such units at `t = 1`; its answer there is an extrapolation. Every
# query reports the share of units for which the intervened value falls outside the
# central 99% of the site's law given their parents, $|t - a z| > z_{0.995} = 2.576$:
#
# $$P(|1 - a z| > 2.576) = \Phi\big(\tfrac{1 - 2.576}{a}\big) + 1 - \Phi\big(\tfrac{1 + 2.576}{a}\big).$$
#
# Above one unit in ten it warns with a `cp.CausalWarning` (a `UserWarning`, so it can be
# filtered like any other).

# %%
from math import erf, sqrt  # noqa: E402

Z99 = 2.5758293035489  # the 99.5% quantile of N(0, 1)


def share_outside(value):
    phi = lambda v: 0.5 * (1 + erf(v / sqrt(2)))  # noqa: E731
    return phi((value - Z99) / A) + 1 - phi((value + Z99) / A)


for value in (1.0, 4.0):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        share = cp.sample(model, num_samples=N, do={"t": value}, seed=4).attrs["extrapolation_t"]
    warned = any(issubclass(w.category, cp.CausalWarning) for w in caught)
    print(f"do(t={value}): {share:.1%} of units outside (closed form {share_outside(value):.1%}); warned: {warned}")
    assert abs(share - share_outside(value)) < 5 * sqrt(share_outside(value) / N) + 0.002
    assert warned == (share > 0.1)

# %% [markdown]
# **Next:** the counterfactuals tutorial asks what would have happened to *one*
# observed unit, which needs the unit's own noise, not only the model.
