"""The discretised logistic's abduction is an exact posterior draw: a truncated logistic."""

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import log_expit

from causalppl.nn import DiscretizedLogistic

N = 20000


def _truncated_logistic_cdf(lo, hi):
    """CDF of Logistic(0, 1) truncated to ``[lo, hi]``, in log space on the small tail's side."""
    flip = lo + hi > 0
    if flip:  # u in [lo, hi] <=> -u in [-hi, -lo]
        lo, hi = -hi, -lo

    @np.errstate(divide="ignore")  # log(0) at the interval's lower end is -inf, as it should be
    def cdf(u):
        u = -np.asarray(u) if flip else np.asarray(u)
        lower = -np.inf if np.isinf(lo) else log_expit(lo)
        num = np.log(-np.expm1(lower - log_expit(u))) + log_expit(u) if np.isfinite(lower) else log_expit(u)
        den = np.log(-np.expm1(lower - log_expit(hi))) + log_expit(hi) if np.isfinite(lower) else log_expit(hi)
        f = np.exp(np.minimum(num - den, 0.0))
        return 1 - f if flip else f

    return cdf


@pytest.mark.parametrize(
    "loc, log_scale, level",
    [
        (0.3, -2.0, 100),  # an interior level near the bulk
        (0.3, -2.0, 0),  # the bottom level, absorbing the lower tail
        (0.3, -2.0, 255),  # the top level, absorbing the upper tail
        (0.9, -4.0, 0),  # a bottom level ~50 scales away: CDF values ~ e^-50
        (0.0, -4.6, 200),  # an interior level ~80 scales above the location
        (0.5, 2.0, 128),  # a very wide logistic: the level is a sliver of the bulk
    ],
)
def test_abducted_noise_is_the_truncated_logistic(loc, log_scale, level):
    bins, s = 256, np.exp(log_scale)
    d = DiscretizedLogistic(torch.full((N,), loc), torch.tensor(log_scale), bins=bins, event_dims=0)
    x = torch.full((N,), level / (bins - 1))
    torch.manual_seed(level)
    u = d.abduct(x)
    assert torch.equal(d.push(u), x)
    half = 0.5 / (bins - 1)
    lo = -np.inf if level == 0 else (level / (bins - 1) - half - loc) / s
    hi = np.inf if level == bins - 1 else (level / (bins - 1) + half - loc) / s
    un = u.numpy()
    assert bool(np.isfinite(un).all()) and un.min() >= lo - 1e-9 and un.max() <= hi + 1e-9
    assert stats.kstest(un, _truncated_logistic_cdf(lo, hi)).pvalue > 1e-3


def test_abducted_noise_of_sampled_pixels_is_the_prior():
    # x ~ the law and u ~ p(u | x) make (x, u) a draw of the joint: u is Logistic(0, 1).
    g = torch.Generator().manual_seed(0)
    loc = torch.rand(N, generator=g) * 1.2 - 0.1
    d = DiscretizedLogistic(loc, torch.tensor(-2.5), event_dims=0)
    torch.manual_seed(1)
    u = d.abduct(d.sample())
    assert stats.kstest(u.numpy(), stats.logistic.cdf).pvalue > 1e-3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bins", [2, 5, 256])
def test_push_of_abducted_noise_is_exact_for_extreme_parameters(dtype, bins):
    g = torch.Generator().manual_seed(bins)
    loc = (torch.rand(100_000, generator=g) * 8 - 3.5).to(dtype)
    log_scale = (torch.rand(100_000, generator=g) * 14 - 11).to(dtype)  # scales from e^-11 to e^3
    d = DiscretizedLogistic(loc, log_scale, bins=bins, event_dims=0)
    torch.manual_seed(2)
    x = torch.randint(0, bins, (100_000,), generator=g).to(dtype) / (bins - 1)  # any level, likely or not
    u = d.abduct(x)
    assert u.dtype == dtype and bool(torch.isfinite(u).all())
    assert torch.equal(d.push(u), x)
