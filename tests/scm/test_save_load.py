"""Save / load: exact round trip; damaged, tampered or mismatched files raise CausalError."""

import json
import os

import pytest
import torch

import causalppl as cp
from causalppl.errors import CausalError
from causalppl.scm import NeuralSCM, load
from causalppl.scm.io import _digest

PARENTS = {"x": [], "c": ["x"], "z": ["x"], "y": ["x", "c", "z"]}
OVERRIDES = {"c": {"kind": "categorical", "categories": 3}, "z": {"kind": "additive", "dim": 2}}


def _draw(scm, n, seed, do=None):
    """``n`` draws of every node as tensors (through the public query)."""
    ds = cp.sample(scm, n, seed=seed, do=do)
    return {v: torch.as_tensor(ds[v].values) for v in scm.nodes}


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    scm = NeuralSCM(PARENTS, mechanism="flow", hidden=(5, 4), activation="silu", mechanisms=OVERRIDES, bins=3)
    with torch.no_grad():
        data = _draw(scm, 20, 1)
    scm.set_standardization(data)
    path = scm.save(tmp_path / "model.pt")
    return scm, data, path


def test_round_trip_is_exact(saved):
    scm, data, path = saved
    back = load(path)
    assert back.config == scm.config and back.nodes == scm.nodes
    for (k, a), (k2, b) in zip(scm.state_dict().items(), back.state_dict().items()):
        assert k == k2 and a.dtype == b.dtype and torch.equal(a, b)
    assert torch.equal(back.log_prob(data), scm.log_prob(data))
    with torch.no_grad():
        a, b = _draw(scm, 10, 3, do={"x": 1.0}), _draw(back, 10, 3, do={"x": 1.0})
    assert all(torch.equal(a[v], b[v]) for v in scm.nodes)


def test_load_keeps_the_saved_dtype(saved):
    scm, data, path = saved
    torch.set_default_dtype(torch.float32)
    back = load(path)
    assert back.feature_loc.dtype == torch.float64
    assert torch.equal(back.log_prob(data), scm.log_prob(data))


def _rewrite(path, change):
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)


def test_tampered_weights_are_detected(saved):
    _, _, path = saved
    _rewrite(path, lambda p: p["state"]["bank.weight_0"].add_(1e-3))
    with pytest.raises(CausalError, match="modified after it was saved"):
        load(path)


def test_tampered_config_is_detected(saved):
    _, _, path = saved
    _rewrite(path, lambda p: p.update(config=p["config"].replace('"silu"', '"tanh"')))
    with pytest.raises(CausalError, match="checksum"):
        load(path)


def test_weights_that_do_not_fit_the_config_are_reported(saved):
    _, _, path = saved

    def change(p):
        config = json.loads(p["config"])
        config["hidden"] = [7]
        p["config"] = json.dumps(config)
        p["sha256"] = _digest(p["config"], p["state"])  # a consistent checksum, wrong weights

    _rewrite(path, change)
    with pytest.raises(CausalError, match="do not match its model config"):
        load(path)


def test_damaged_and_foreign_files(tmp_path, saved):
    _, _, path = saved
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(b"\x00" * 64)
    with pytest.raises(CausalError, match="not a readable"):
        load(path)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CausalError, match="format marker"):
        load(other)
    with pytest.raises(CausalError, match="no model file"):
        load(tmp_path / "missing.pt")
    text = tmp_path / "text.pt"
    text.write_text("hello")
    with pytest.raises(CausalError, match="not a readable"):
        load(text)
    assert os.path.exists(path)


def test_pickled_code_is_never_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.pt"
    torch.save({"format": "causalppl.NeuralSCM", "payload": Evil()}, path)
    with pytest.raises(CausalError, match="not a readable"):
        load(path)
    assert not (tmp_path / "pwned").exists()
