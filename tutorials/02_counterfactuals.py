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
# # Counterfactuals: abduction, action, prediction
#
# An interventional question is about a population: *what is $E[y]$ if everyone gets
# $h = 2$?* A counterfactual question is about one unit we have already observed: *this
# student did $h = 1$ hour of homework and scored $y = 1.5$; what would they have scored
# with $h = 2$?* The answer must keep everything that made this student who they are,
# which in an SCM is their exogenous noise. Pearl's recipe has three steps:
#
# 1. **abduction**: recover the unit's noise from what was observed;
# 2. **action**: apply the intervention (replace $h$'s mechanism by $h := 2$);
# 3. **prediction**: push the *same* noise through the modified model.
#
# This tutorial does the three steps by hand, then with `cp.counterfactual`, draws the
# twin network, moves on to partial evidence (some noise must be inferred), discrete
# variables (the Gumbel-max SCM), and many units at once.

# %%
import os
import tempfile

import numpy as np
import pyro
import pyro.distributions as dist
import torch

import causalppl as cp
from causalppl.graph import has_dot
from causalppl.noise import noise_model

torch.set_default_dtype(torch.float64)
# CAUSALPPL_SMOKE=1 shrinks every sample count so the tests run this file in seconds.
SMOKE = os.environ.get("CAUSALPPL_SMOKE", "0") == "1"
S = 2_000 if SMOKE else 20_000  # posterior samples per counterfactual query
SVI_STEPS = 500 if SMOKE else 2_000

# %% [markdown]
# ## The model: Pearl's encouragement design
#
# From Pearl, Glymour & Jewell, *Causal Inference in Statistics: A Primer*, §4.2:
# $x$ is time in an after-school programme, $h$ homework, $y$ an exam score, all
# standardised:
#
# $$x := U_x,\qquad h := a x + U_h,\qquad y := b x + c h + U_y,\qquad
#   U_\cdot \sim N(0, 1),\quad a = 0.5,\ b = 0.7,\ c = 0.4.$$

# %%
A, B, C = 0.5, 0.7, 0.4


def model():
    x = pyro.sample("x", dist.Normal(0.0, 1.0))
    h = pyro.sample("h", dist.Normal(A * x, 1.0))
    return pyro.sample("y", dist.Normal(B * x + C * h, 1.0))


evidence = {"x": 0.5, "h": 1.0, "y": 1.5}

# %% [markdown]
# ## The three steps by hand
#
# causalppl reads each site's structural equation out of its distribution:
# `Normal(loc, scale)` is $v = \mathrm{loc} + \mathrm{scale}\cdot u$, so `noise_model`
# can push noise forward and *abduct* it from an observed value.

# %%
x, h, y = (torch.tensor(v) for v in evidence.values())
# 1. Abduction: invert each observed mechanism.
u_x = noise_model(dist.Normal(0.0, 1.0)).abduct(x)
u_h = noise_model(dist.Normal(A * x, 1.0)).abduct(h)
u_y = noise_model(dist.Normal(B * x + C * h, 1.0)).abduct(y)
# 2. Action: h := 2.   3. Prediction: the same noise through the modified model.
x_cf = noise_model(dist.Normal(0.0, 1.0)).push(u_x)
h_cf = torch.tensor(2.0)
y_cf = noise_model(dist.Normal(B * x_cf + C * h_cf, 1.0)).push(u_y)
print(f"noise: u_x={float(u_x):.2f} u_h={float(u_h):.2f} u_y={float(u_y):.2f}")
print(f"counterfactual y under h=2: {float(y_cf):.2f}")
assert abs(float(y_cf) - 1.9) < 1e-12  # Pearl's answer: 1.5 + c * (2 - 1)

# %% [markdown]
# ## The same with `cp.counterfactual`
#
# `cp.counterfactual` does all three steps for every site of the program. The answer is
# an `xarray.Dataset` with a `world` dim (`factual`, `counterfactual`) and a `sample` dim.
# With every variable observed and every mechanism invertible the noise is determined
# exactly, so all samples agree and `attrs["abduction"]` says `"exact"`.

# %%
cf = cp.counterfactual(model, evidence=evidence, do={"h": 2.0}, num_samples=100, seed=0)
print(cf)
y_star = cf.y.sel(world="counterfactual")
assert cf.attrs["abduction"] == "exact"
assert np.allclose(y_star, 1.9, atol=1e-12)
assert np.allclose(cf.y.sel(world="factual"), evidence["y"])  # the factual world is the evidence

# %% [markdown]
# ## The twin network
#
# Under the hood both worlds run at once, batched along the `world` dim, and every site's
# noise is drawn or abducted *once* and shared by both worlds. Balke and Pearl's twin
# network draws exactly this: each variable twice (`v` factual, `v*` counterfactual),
# joined by their common noise `U_v` (dashed); the intervened `h*` has lost its parents.

# %%
twin = cp.graph(model).twin_network(["h"])
print(twin.to_dot())
assert twin.parents("h*") == []
assert set(twin.parents("y")) == {"x", "h", "U_y"}
assert set(twin.parents("y*")) == {"x*", "h*", "U_y"}
if has_dot():
    svg = twin.render(os.path.join(tempfile.mkdtemp(), "twin"), format="svg")
    assert os.path.getsize(svg) > 0
twin

# %% [markdown]
# Sharing the noise of *every* site matters. If the counterfactual world drew fresh noise
# for `y` (as happens in other libraries for a plain `Normal(f(pa), σ)` site that was not
# rewritten by hand), the answer would silently become the *interventional* law
# $y \mid do(x = 0.5, h = 2) \sim N(bx + 2c,\ 1)$: mean 1.15 and sd 1 instead of exactly
# 1.9. Here it is, for comparison:

# %%
fresh = cp.sample(model, num_samples=S, do={"x": 0.5, "h": 2.0}, seed=1).y
for label, draws in [("fresh noise (interventional)", fresh), ("shared (counterfactual)", y_star)]:
    print(f"{label:30s} mean {float(draws.mean()):.3f}  sd {float(draws.std()):.3f}")
assert abs(float(fresh.mean()) - (B * 0.5 + C * 2.0)) < 5 / np.sqrt(S)
assert abs(float(fresh.std()) - 1.0) < 0.1

# %% [markdown]
# ## Partial evidence: inferred abduction
#
# Suppose we saw `x` and `y` but not the homework `h`. Then $U_h$ and $U_y$ are not
# pinned down: only $c\,U_h + U_y$ is. Abduction becomes inference: the posterior over
# the unobserved noise given the evidence. `cp.counterfactual` notices this and switches
# to importance sampling (the prior as proposal, one weighted particle cloud per unit).
#
# **Closed form.** Everything is jointly Gaussian, so the posterior of $h$ given
# $x, y$ is Gaussian, and the counterfactual
# $y^* = b x + 2c + U_y = y + c\,(2 - h)$ is a linear function of it.

# %%
W = np.array([[0, A, B], [0, 0, C], [0, 0, 0]])  # W[i, j]: coefficient of node i in node j
M = np.linalg.inv(np.eye(3) - W.T)  # (x, h, y) = M @ (u_x, u_h, u_y)
COV = M @ M.T


def posterior_h(x_obs, y_obs):
    """Mean and sd of h given x and y, by Gaussian conditioning (works elementwise)."""
    obs, lat = [0, 2], 1
    gain = COV[lat, obs] @ np.linalg.inv(COV[np.ix_(obs, obs)])
    mean = gain @ np.stack([np.asarray(x_obs), np.asarray(y_obs)])
    var = COV[lat, lat] - gain @ COV[obs, lat]
    return mean, np.sqrt(var)


def counterfactual_y(x_obs, y_obs, h_new=2.0):
    """Mean and sd of y* = y + c (h_new - h) under the posterior of h."""
    mean_h, sd_h = posterior_h(x_obs, y_obs)
    return y_obs + C * (h_new - mean_h), C * sd_h


exact_mean, exact_sd = counterfactual_y(0.5, 1.5)
partial = {"x": 0.5, "y": 1.5}  # h is not observed
cf_partial = cp.counterfactual(model, evidence=partial, do={"h": 2.0}, num_samples=S, seed=0)
y_star = cf_partial.y.sel(world="counterfactual")
print(f"abduction: {cf_partial.attrs['abduction']}, smallest effective sample size {cf_partial.attrs['ess_min']:.0f}")
print(
    f"y*: closed form mean {exact_mean:.3f} sd {exact_sd:.3f};"
    f" importance mean {float(y_star.mean()):.3f} sd {float(y_star.std()):.3f}"
)
assert cf_partial.attrs["abduction"] == "importance"
assert abs(float(y_star.mean()) - exact_mean) < 5 * exact_sd / np.sqrt(S)
assert abs(float(y_star.std()) - exact_sd) < 0.1 * exact_sd

# %% [markdown]
# The factual world still reproduces the evidence exactly, while the unobserved `h`
# now varies across samples, following its posterior:

# %%
h_fact = cf_partial.h.sel(world="factual")
mean_h, sd_h = posterior_h(0.5, 1.5)
assert np.allclose(cf_partial.y.sel(world="factual"), 1.5)
assert abs(float(h_fact.mean()) - mean_h) < 5 * sd_h / np.sqrt(S)

# %% [markdown]
# Importance sampling with the prior as proposal is fine for a few latent variables. For
# many, `abduction="svi"` fits a multivariate-normal guide over the unobserved noise
# by stochastic variational inference instead. The true posterior is Gaussian here, so it
# lies in the guide family and SVI reaches the closed form up to optimisation noise. The
# answer says how the fit ended: `attrs["svi_elbo"]` (the final ELBO) and
# `attrs["svi_elbo_trend"]` (its change over the last tenth of the steps, in units of its own
# spread there: near 0 once it has converged, large when more steps would still help).

# %%
cf_svi = cp.counterfactual(
    model, evidence=partial, do={"h": 2.0}, num_samples=S, seed=0, abduction="svi", svi_steps=SVI_STEPS
)
y_svi = cf_svi.y.sel(world="counterfactual")
print(
    f"svi: mean {float(y_svi.mean()):.3f} sd {float(y_svi.std()):.3f}; final ELBO {cf_svi.attrs['svi_elbo']:.3f}, "
    f"trend {cf_svi.attrs['svi_elbo_trend']:.2f}"
)
assert cf_svi.attrs["abduction"] == "svi" and np.isfinite(cf_svi.attrs["svi_elbo"])
assert abs(cf_svi.attrs["svi_elbo_trend"]) < 3  # converged: the ELBO no longer moves beyond its own noise
assert abs(float(y_svi.mean()) - exact_mean) < 0.25 * exact_sd
assert abs(float(y_svi.std()) - exact_sd) < 0.25 * exact_sd

# %% [markdown]
# Asking for `abduction="exact"` when it is impossible is an error that names the site,
# not a silently wrong answer:

# %%
try:
    cp.counterfactual(model, evidence=partial, do={"h": 2.0}, abduction="exact")
except cp.CausalError as err:
    print(type(err).__name__, "-", err)
    assert "'h'" in str(err)
else:
    raise AssertionError("exact abduction with h unobserved must raise")

# %% [markdown]
# ## Many units at once
#
# Evidence with a leading batch dimension describes several units; the result gains a
# `unit` dim, and abduction runs for all units in one batched pass. Selecting by name
# keeps the bookkeeping readable.

# %%
xs = torch.tensor([0.5, -1.0, 0.0, 2.0])
ys = torch.tensor([1.5, 0.2, -1.0, 1.0])
cf_units = cp.counterfactual(model, evidence={"x": xs, "y": ys}, do={"h": 2.0}, num_samples=S, seed=0)
print(dict(cf_units.sizes))
per_unit = cf_units.y.sel(world="counterfactual")
exact_means, exact_sd = counterfactual_y(xs.numpy(), ys.numpy())
print("closed form:", np.round(exact_means, 3))
print("importance: ", np.round(per_unit.mean("sample").values, 3))
assert cf_units.y.dims == ("world", "sample", "unit")
assert np.all(np.abs(per_unit.mean("sample").values - exact_means) < 5 * exact_sd / np.sqrt(S))
assert np.all(np.abs(per_unit.std("sample").values - exact_sd) < 0.1 * exact_sd)

# %% [markdown]
# ## Discrete variables: the Gumbel-max SCM
#
# A categorical site `Categorical(logits=ℓ)` has many structural equations with the right
# law. causalppl uses the Gumbel-max one (Oberst & Sontag, 2019):
# $v := \arg\max_k(\ell_k + g_k)$ with independent standard Gumbels $g_k$. Among all
# mechanisms it is *counterfactually stable*: if the intervention raises the odds of the
# observed outcome $k$ at least as much as those of another outcome $j$, the
# counterfactual is never $j$. Abduction draws the Gumbels from their exact posterior
# given the observed argmax (the truncated-Gumbel trick), so it stays `"exact"`.
#
# A small model: `s` a binary patient type, `t` one of three treatments, `w` a
# side measurement that depends on `s` only, and `y` one of three outcomes.

# %%
LOGITS_T = torch.tensor([[1.0, 0.0, -1.0], [-1.0, 0.5, 0.5]])  # rows: s
LOGITS_Y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.5, 0.0], [0.0, 0.0, 1.0]])  # rows: t
BUMP_Y = torch.tensor([0.0, 1.0, 0.0])  # patients of type s=1 lean to outcome 1


def categorical_model():
    s = pyro.sample("s", dist.Bernoulli(0.4))
    t = pyro.sample("t", dist.Categorical(logits=LOGITS_T[s.long()]))
    pyro.sample("w", dist.Categorical(logits=s.unsqueeze(-1) * torch.tensor([0.0, 1.0, -1.0])))
    return pyro.sample("y", dist.Categorical(logits=LOGITS_Y[t] + s.unsqueeze(-1) * BUMP_Y))


evidence_cat = {"s": 1.0, "t": 0, "w": 1, "y": 2}
cf_cat = cp.counterfactual(categorical_model, evidence=evidence_cat, do={"t": 1}, num_samples=S, seed=0)
y_cf = cf_cat.y.sel(world="counterfactual").values
law_cf = np.bincount(y_cf, minlength=3) / S
print("abduction:", cf_cat.attrs["abduction"], "| mechanisms:", cf_cat.attrs["mechanisms"])
print("counterfactual law of y:", np.round(law_cf, 4))
assert cf_cat.attrs["abduction"] == "exact"

# %% [markdown]
# **Exact law.** Write $\ell, \ell'$ for the factual and counterfactual logits of `y` and
# $k$ for the observed outcome. The outcome stays $k$ exactly when
# $g_i \le g_k + \min(\ell_k - \ell_i,\ \ell'_k - \ell'_i)$ for every $i \ne k$;
# integrating over $g_k$ gives a closed form,
#
# $$P(y = k,\ y^* = k) =
#   \Big(1 + \sum_{i \ne k} e^{\max(\ell_i - \ell_k,\ \ell'_i - \ell'_k)}\Big)^{-1},$$
#
# and dividing by $P(y = k) = \mathrm{softmax}(\ell)_k$ gives the probability that the
# outcome is unchanged. As a second, fully independent reference we also compute the whole
# law by rejection: draw Gumbels from the prior, keep those that reproduce the observed
# outcome, and push the kept ones through the intervened mechanism.

# %%
logits_f = LOGITS_Y[0] + BUMP_Y  # t = 0, s = 1
logits_cf = LOGITS_Y[1] + BUMP_Y  # t = 1, s = 1
k = evidence_cat["y"]
others = [i for i in range(3) if i != k]
margin = torch.maximum(logits_f - logits_f[k], logits_cf - logits_cf[k])[others]
p_stay = float(1 / (1 + margin.exp().sum()) / torch.softmax(logits_f, -1)[k])

gen = torch.Generator().manual_seed(1)
gumbels = -torch.log(-torch.log(torch.rand(40 * S, 3, generator=gen)))
kept = gumbels[(logits_f + gumbels).argmax(-1) == k]
law_ref = np.bincount((logits_cf + kept).argmax(-1).numpy(), minlength=3) / len(kept)
law_do = torch.softmax(logits_cf, -1).numpy()  # the interventional law, for contrast
print(f"closed form P(y* = y):   {p_stay:.4f}")
print("rejection reference law:", np.round(law_ref, 4), f"({len(kept)} kept draws)")
print("interventional law P(y | do(t=1), s=1):", np.round(law_do, 4))
se_cf = np.sqrt(p_stay * (1 - p_stay) / S)
assert abs(law_cf[k] - p_stay) < 5 * se_cf
assert abs(law_ref[k] - p_stay) < 5 * np.sqrt(p_stay * (1 - p_stay) / len(kept))
se = np.sqrt(law_ref * (1 - law_ref) * (1 / S + 1 / len(kept)))
assert np.all(np.abs(law_cf - law_ref) <= 5 * se + 1e-12)
assert np.abs(law_cf - law_do).max() > 0.1  # a counterfactual is not an intervention

# %% [markdown]
# **Stability.** The observed outcome was $k = 2$. Moving from $t = 0$ to $t = 1$ changes
# the logit of outcome 0 by $-1$ and of outcome 2 by $0$: outcome 0 became relatively
# *less* likely than the observed one, so no counterfactual may be 0, although outcome 0
# has positive probability under the intervention. Sites that do not depend on the
# intervention (`s`, `w`) keep their factual values in every sample, and a null
# intervention ($t := 0$, the factual value) changes nothing at all.

# %%
change = (logits_cf - logits_f).numpy()
impossible = [j for j in range(3) if change[j] < change[k]]
print("outcomes ruled out by stability:", impossible)
assert impossible == [0] and law_cf[0] == 0.0 and law_do[0] > 0.05
for site in ("s", "w"):
    assert (cf_cat[site].sel(world="counterfactual") == cf_cat[site].sel(world="factual")).all()

null = cp.counterfactual(categorical_model, evidence=evidence_cat, do={"t": 0}, num_samples=S, seed=0)
assert (null.y.sel(world="counterfactual") == evidence_cat["y"]).all()

# %% [markdown]
# ## Summary
#
# - `cp.counterfactual(model, evidence, do)` = abduction + action + prediction, with both
#   worlds sharing every site's noise.
# - Full evidence through invertible mechanisms: exact, batched abduction.
#   Otherwise: importance sampling (default) or `abduction="svi"`; `attrs["abduction"]`
#   always says which.
# - Discrete sites use the Gumbel-max SCM, whose counterfactuals are stable.
# - A leading batch dim in the evidence gives a `unit` dim.
