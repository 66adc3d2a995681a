"""Compile the kernels ahead of time for an NVIDIA GPU that is not there, and read the cubin.

With no GPU, the launchers still run: :func:`record_launches` swaps each ``triton.jit``
kernel of a compiled-mode module for a recorder, so host code (``forward``, ``backward``,
``sample``) yields the exact launches it would make. :func:`compile_launch` compiles one
for ``sm_90`` (H100/H200) with Triton's bundled toolchain and reports what
``cuobjdump -res-usage`` says: registers per thread, spill (local) bytes, shared memory.
This catches compile errors and register spills on CPU-only machines.

A process runs Triton either interpreted or compiled (see :mod:`._backend`), so
:func:`report` runs in a fresh process (``python -m causalppl.kernels.aot``, JSON in and
out) with ``TRITON_INTERPRET`` unset.

Example (slow: it runs the compiler, so not a doctest)::

    from causalppl.kernels import aot
    rows = aot.report([{"kind": "mechanism", "nodes": 20, "max_parents": 3,
                         "hidden": [64], "outputs": 2, "activation": "tanh"}])
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import torch

from . import _backend

__all__ = ["Launch", "compile_launch", "launches_for", "record_launches", "report"]

_OPTIONS = ("num_warps", "num_stages", "enable_fp_fusion")
_TYPES = {torch.float32: "*fp32", torch.int32: "*i32", torch.int8: "*i8", torch.int64: "*i64", torch.float64: "*fp64"}


@dataclass
class Launch:
    """One recorded kernel launch."""

    kernel: object
    grid: tuple
    args: tuple
    meta: dict
    label: str = ""

    @property
    def name(self) -> str:
        return self.kernel.fn.__name__


class _Recorder:
    def __init__(self, kernel, log):
        self.kernel, self.log = kernel, log

    def __getitem__(self, grid):
        def launch(*args, **meta):
            self.log.append(Launch(self.kernel, tuple(grid), args, meta))

        return launch


def record_launches(kind: str, call) -> list[Launch]:
    """Run ``call(module)`` on the compiled-mode ``kernels/<kind>/triton.py``, recording the
    kernel launches it makes instead of running them (outputs stay uninitialised)."""
    import triton

    module = _backend.triton_module(f"{kind}/triton.py", interpret=False)
    log: list[Launch] = []
    saved = {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, triton.runtime.jit.JITFunction) and name.endswith("_kernel")
    }
    try:
        for name, kernel in saved.items():
            setattr(module, name, _Recorder(kernel, log))
        call(module)
    finally:
        for name, kernel in saved.items():
            setattr(module, name, kernel)
    return log


def _signature(launch: Launch) -> tuple[dict, dict, dict]:
    options = {k: v for k, v in launch.meta.items() if k in _OPTIONS}
    constexprs = {k: v for k, v in launch.meta.items() if k not in _OPTIONS}
    signature = {}
    for name, value in zip([n for n in launch.kernel.arg_names if n not in constexprs], launch.args):
        if isinstance(value, torch.Tensor):
            signature[name] = _TYPES[value.dtype]
        else:
            signature[name] = "i32" if abs(int(value)) < 2**31 else "i64"
    signature.update({k: "constexpr" for k in constexprs})
    return signature, constexprs, options


def compile_launch(launch: Launch, arch: int = 90) -> dict:
    """Compile a recorded launch for ``sm_<arch>``; registers, spills and shared memory."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    signature, constexprs, options = _signature(launch)
    source = ASTSource(fn=launch.kernel, signature=signature, constexprs=constexprs)
    compiled = triton.compile(source, target=GPUTarget("cuda", arch, 32), options=options)
    tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(compiled.asm["cubin"])
        f.flush()
        usage = subprocess.run([tool, "-res-usage", f.name], capture_output=True, text=True, check=True).stdout
    fields = dict(re.findall(r"(REG|STACK|SHARED|LOCAL):(\d+)", usage.split("Function")[-1]))
    return {
        "kernel": launch.name,
        "registers": int(fields.get("REG", -1)),
        "spill_bytes": int(fields.get("LOCAL", 0)) + int(fields.get("STACK", 0)),
        "shared_bytes": int(compiled.metadata.shared),
        "num_warps": options.get("num_warps", 4),
        "constexprs": {k: v for k, v in constexprs.items() if k.isupper()},
    }


def launches_for(spec: dict) -> list[Launch]:
    """The launches of one workload ``spec`` (a dict, see :func:`report`), recorded."""
    from .testing import random_decoder, random_mechanism

    batch = spec.get("batch", 4096)
    act = spec["activation"]
    if spec["kind"] == "decoder":
        widths = tuple(spec["widths"])
        weights, biases = random_decoder(0, widths, dtype=torch.float32)
        z = torch.empty(batch, widths[0])
        gy = torch.empty(batch, widths[-1])
        out_act = spec.get("out_activation")

        def call(m):
            _, saved = m.forward(z, weights, biases, act, out_act, keep=True)
            m.backward(weights, saved, gy, act, out_act, need_dz=True)

        layers = range(len(weights))
        labels = [f"forward, layer {i}" for i in layers]
        labels += [f"{what}, layer {i}" for i in reversed(layers) for what in ("dW", "dh")]
        return _labelled(record_launches("decoder", call), labels)
    n = spec["nodes"]
    net = random_mechanism(0, n, spec["max_parents"], tuple(spec["hidden"]), spec["outputs"], dtype=torch.float32)
    x = torch.empty(batch, n)
    lp = torch.empty(batch)

    def call(m):
        m.forward(x, *net.args(), act, net.scale)
        m.backward(x, *net.args(), act, net.scale, None, None, None, lp, need_dx=False)
        m.backward(x, *net.args(), act, net.scale, x, x, x, lp, need_dx=True)
        m.sample(x, *net.args(), act, net.order, net.scale, x > 0, x, variant="dag")
        m.sample(x, *net.args(), act, net.order, net.scale, variant="level", levels=[net.order[:1]])

    labels = [
        "forward",
        "backward (weights)",
        "backward (weights, x, all outputs)",
        "sample, whole DAG",
        "sample, one level",
    ]
    return _labelled(record_launches("mechanism", call), labels)


def _labelled(launches: list[Launch], labels: list[str]) -> list[Launch]:
    for launch, label in zip(launches, labels, strict=True):
        launch.label = label
    return launches


def _report_here(specs: list[dict]) -> list[dict]:
    rows = []
    for spec in specs:
        for i, launch in enumerate(launches_for(spec)):
            rows.append({"spec": spec, "launch": i, "label": launch.label, **compile_launch(launch)})
    return rows


def report(specs: list[dict], timeout: float = 1800) -> list[dict]:
    """Compile every launch of each workload for sm_90, in a fresh compiled-mode process.

    A spec is ``{"kind": "mechanism", "nodes", "max_parents", "hidden": [...], "outputs",
    "activation", "batch"?}`` or ``{"kind": "decoder", "widths": [...], "activation",
    "out_activation"?, "batch"?}``. Returns one dict per launch (see :func:`compile_launch`).
    """
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    done = subprocess.run(
        [sys.executable, "-m", f"{__package__}.aot"],
        input=json.dumps(specs),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ahead-of-time compile failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(_report_here(json.loads(sys.stdin.read()))))
