"""Give ``pyro.deterministic`` sites the event dims they mean, inside any number of plates."""

from __future__ import annotations

import pyro.distributions as dist
import torch
from pyro.distributions.torch_distribution import ExpandedDistribution, MaskedDistribution
from pyro.poutine.messenger import Messenger

__all__ = ["DeterministicShapeMessenger", "fix_deterministic_event_dim"]


class DeterministicShapeMessenger(Messenger):
    """Re-read a deterministic site's event dims from the plates it sits in.

    ``pyro.deterministic`` defaults ``event_dim`` to the value's ndim, so once queries add
    sample/world/unit plates the whole batch is taken for an event (ChiRho's world dims get
    mis-shaped this way). A value's leading dims up to the outermost enclosing plate are
    batch dims; only the rest can be event dims.

    Example:
        >>> import torch, pyro
        >>> def model():
        ...     return pyro.deterministic("d", torch.zeros(5))
        >>> with DeterministicShapeMessenger(), pyro.plate("n", 5, dim=-1):
        ...     tr = pyro.poutine.trace(model).get_trace()
        >>> tr.nodes["d"]["fn"].event_shape
        torch.Size([])
    """

    def _pyro_sample(self, msg):
        fix_deterministic_event_dim(msg)


def fix_deterministic_event_dim(msg, frames=None) -> None:
    """Rebuild a deterministic site's ``Delta`` so that only non-plate dims are event dims.

    Runs after every plate has processed the message (the frames are then complete), or,
    from a handler inside some plates, with ``frames`` = every active plate
    (``pyro.poutine.runtime.get_plates()``); the plates may already have expanded the
    mis-shaped ``Delta``, so it is unwrapped.
    """
    if not msg["infer"].get("_deterministic"):
        return
    delta = msg["fn"]
    while isinstance(delta, (MaskedDistribution, ExpandedDistribution)):
        delta = delta.base_dist
    if not isinstance(delta, dist.Delta):
        return
    # pyro.deterministic passes the value as ``obs``; the plates may have expanded ``delta.v``.
    value = msg["value"] if msg["value"] is not None else delta.v
    frames = [f for f in (msg["cond_indep_stack"] if frames is None else frames) if f.vectorized]
    batch_rank = -min((f.dim for f in frames), default=0)
    event_dim = min(delta.event_dim, max(value.dim() - batch_rank, 0))
    if event_dim == len(msg["fn"].event_shape):
        return
    new = dist.Delta(value, delta.log_density, event_dim=event_dim)
    target = [1] * max(batch_rank, len(new.batch_shape))
    target[len(target) - len(new.batch_shape) :] = new.batch_shape
    for f in frames:
        target[f.dim] = f.size
    msg["fn"] = new.expand(torch.Size(target)).mask(False)
