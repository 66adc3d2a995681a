"""What a Pyro program is, read by running it: its sites, graph, plates and batched paths.

Example:
    >>> import pyro, pyro.distributions as dist
    >>> import causalppl as cp
    >>> def model():
    ...     x = pyro.sample("x", dist.Normal(0.0, 1.0))
    ...     return pyro.sample("y", dist.Normal(x, 1.0), obs=torch.tensor(0.5))
    >>> import torch
    >>> info = probe(model)
    >>> info.names, sorted(info.observed)
    (['x', 'y'], ['y'])
"""

from .batched import BatchedPaths, batched_paths
from .extract import graph
from .guard import guarded
from .info import ProgramInfo, default_event_dims, probe, probed
from .trace import exogenous_sites, is_model_site, sample_sites, trace_sites

__all__ = [
    "BatchedPaths",
    "ProgramInfo",
    "batched_paths",
    "default_event_dims",
    "exogenous_sites",
    "graph",
    "guarded",
    "is_model_site",
    "probe",
    "probed",
    "sample_sites",
    "trace_sites",
]
