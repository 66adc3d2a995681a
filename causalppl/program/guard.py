"""Running a user's program inside a query: a raw failure becomes a CausalError naming the site.

Queries run a model vectorised (plates of samples, worlds and units left of the model's
own), so a model written for one unit with Python control flow on a sampled value, or
one that builds values with the wrong broadcasting, fails deep inside torch or Pyro.
:func:`guarded` runs the program and turns such a failure into a
:class:`~causalppl.errors.CausalError` that names the last site reached and says what a
query needs from a model; the original error stays attached as ``__cause__``.

Example:
    >>> import pyro, pyro.distributions as dist
    >>> def model():
    ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
    ...     if x > 0:                                   # one unit only: not vectorised
    ...         return pyro.sample("y", dist.Normal(x, 1.0))
    ...     return pyro.sample("y", dist.Normal(-x, 1.0))
    >>> with pyro.plate("sample", 3):
    ...     guarded(model)()
    Traceback (most recent call last):
    ...
    causalppl.errors.CausalError: the model failed after site 'x' ...: a Python `if` on a sampled value ...
"""

from __future__ import annotations

import functools

from pyro.poutine.messenger import Messenger
from pyro.poutine.util import site_is_subsample

from ..errors import CausalError

__all__ = ["guarded"]

_HINTS = (
    (
        "ambiguous",
        "a Python `if` on a sampled value (or `bool(tensor)`) only works for one unit; queries run "
        "the model vectorised over samples, worlds and units, so write it with torch.where",
    ),
    (
        "shape mismatch",
        "a site's batch shape does not broadcast with the plates the query adds (sample, world, "
        "unit) on the left: build values by broadcasting, not by torch.stack/cat along dim 0",
    ),
    (
        "must match the size",
        "a value's shape does not broadcast with the plates the query adds (sample, world, "
        "unit) on the left: build values by broadcasting, not by fixed-size reshapes",
    ),
    ("expand", "a value's shape does not broadcast with the plates the query adds (sample, world, unit)"),
)


class _LastSite(Messenger):
    def __enter__(self):
        self.last = None
        return super().__enter__()

    def _pyro_sample(self, msg):
        if not site_is_subsample(msg) and not msg["infer"].get("_cp_internal"):
            self.last = msg["name"]


def guarded(model):
    """``model`` wrapped so that a raw exception in a run becomes a named CausalError."""

    @functools.wraps(model)
    def run(*args, **kwargs):
        tracker = _LastSite()
        try:
            with tracker:
                return model(*args, **kwargs)
        except CausalError:
            raise
        except Exception as e:  # noqa: BLE001 - the user's program: say where, keep the cause
            raise _named(e, tracker.last) from e

    return run


def _named(e: Exception, last: str | None) -> CausalError:
    text = str(e)
    where = f"after site {last!r}" if last else "before its first sample site"
    hint = next((h for key, h in _HINTS if key in text.lower()), None)
    detail = f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"
    return CausalError(f"the model failed {where} ({detail})" + (f": {hint}" if hint else ""))
