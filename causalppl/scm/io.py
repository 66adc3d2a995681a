"""Save and load NeuralSCMs: config as JSON text, weights as tensors, no pickled code.

The file is a ``torch.save`` of plain containers (strings and tensors) read back with
``torch.load(weights_only=True)``, so loading never executes code from the file. A
SHA-256 digest over the config and every tensor detects a file changed after saving.
"""

from __future__ import annotations

import hashlib
import json
import os

import torch

from ..errors import CausalError

__all__ = ["load", "save"]

FORMAT = "causalppl.NeuralSCM"
VERSION = 1


def _digest(config_text: str, state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(config_text.encode())
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save(scm, path) -> str:
    """Write ``scm`` to ``path`` (see :meth:`causalppl.scm.NeuralSCM.save`)."""
    config_text = json.dumps({"dtype": str(scm.feature_loc.dtype).removeprefix("torch."), **scm.config}, sort_keys=True)
    state = {k: v.detach().cpu().clone() for k, v in scm.state_dict().items()}
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": config_text,
        "state": state,
        "sha256": _digest(config_text, state),
    }
    path = os.fspath(path)
    torch.save(payload, path)
    return path


def load(path, map_location: str | torch.device = "cpu"):
    """Read a NeuralSCM written by :meth:`~causalppl.scm.NeuralSCM.save`.

    Raises:
        CausalError: the file is missing, not such a file, changed after saving
            (checksum mismatch), or its weights do not fit its config.

    Example:
        >>> import os, tempfile, torch
        >>> from causalppl.scm import NeuralSCM, load
        >>> scm = NeuralSCM({"x": [], "y": ["x"]}, hidden=(4,))
        >>> path = scm.save(os.path.join(tempfile.mkdtemp(), "m.pt"))
        >>> data = {"x": torch.randn(3), "y": torch.randn(3)}
        >>> bool(torch.equal(load(path).log_prob(data), scm.log_prob(data)))
        True
    """
    from .neural_scm import NeuralSCM

    if not isinstance(path, (str, bytes, os.PathLike)):
        raise CausalError(f"path must be a file path (str or os.PathLike), got {type(path).__name__}: {path!r}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CausalError(f"no model file at {path!r}")
    try:
        torch.empty(0, device=map_location)
    except (RuntimeError, TypeError) as e:
        raise CausalError(f"map_location must name a device this torch has (e.g. 'cpu'), got {map_location!r}") from e
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise CausalError(f"{path!r} is not a readable causalppl model file: {type(e).__name__}: {e}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CausalError(f"{path!r} is not a causalppl NeuralSCM file (format marker missing)")
    if payload.get("version") != VERSION:
        raise CausalError(f"{path!r} has format version {payload.get('version')!r}; this causalppl reads {VERSION}")
    config_text, state = payload.get("config"), payload.get("state")
    if (
        not isinstance(config_text, str)
        or not isinstance(state, dict)
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
    ):
        raise CausalError(f"{path!r} is damaged: config or weights have the wrong type")
    if payload.get("sha256") != _digest(config_text, state):
        raise CausalError(f"{path!r} was modified after it was saved (checksum mismatch)")
    try:
        config = json.loads(config_text)
        dtype = getattr(torch, str(config.pop("dtype", "float32")))
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype {dtype!r}")
        previous = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            scm = NeuralSCM(**config)
        finally:
            torch.set_default_dtype(previous)
    except (json.JSONDecodeError, TypeError, AttributeError) as e:
        raise CausalError(f"{path!r} has an invalid model config: {e}") from None
    try:
        scm.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CausalError(f"the weights in {path!r} do not match its model config: {e}") from None
    return scm.to(map_location)
