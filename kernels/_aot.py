"""Compile the kernels ahead of time for an NVIDIA GPU that is not there, and read the cubin.

With no GPU, the launchers still run: :func:`record_launches` swaps each ``triton.jit``
kernel of a compiled-mode module for a recorder, so a host function (``forward``,
``backward``, ``sample``) yields the exact launches it would make. :func:`compile_launch`
compiles one for ``sm_90`` (H100/H200) with Triton's bundled toolchain and reports what
``cuobjdump -res-usage`` says: registers per thread, spill (local) bytes, shared memory.
This catches compile errors and register spills on CPU-only machines.

Example (slow: it runs the compiler, so not a doctest)::

    from causalppl.kernels import _aot
    for launch in _aot.record_launches("mechanism", "forward", x, *net.args(), "tanh"):
        print(_aot.compile_launch(launch))
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass

import torch

from . import _backend

__all__ = ["Launch", "compile_launch", "record_launches"]

_OPTIONS = ("num_warps", "num_stages", "enable_fp_fusion")
_TYPES = {torch.float32: "*fp32", torch.int32: "*i32", torch.int8: "*i8", torch.int64: "*i64",
          torch.float64: "*fp64", torch.bool: "*i1"}


@dataclass
class Launch:
    """One recorded kernel launch."""

    kernel: object
    grid: tuple
    args: tuple
    meta: dict

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


def record_launches(kind: str, function: str, *args, **kwargs) -> list[Launch]:
    """Run ``kernels/<kind>/triton.py:<function>(*args, **kwargs)``, recording its launches."""
    import triton

    module = _backend.triton_module(f"{kind}/triton.py", interpret=False)
    log: list[Launch] = []
    saved = {name: value for name, value in vars(module).items()
             if isinstance(value, triton.runtime.jit.JITFunction) and name.endswith("_kernel")}
    try:
        for name, kernel in saved.items():
            setattr(module, name, _Recorder(kernel, log))
        getattr(module, function)(*args, **kwargs)
    finally:
        for name, kernel in saved.items():
            setattr(module, name, kernel)
    return log


def _signature(launch: Launch) -> tuple[dict, dict, dict]:
    options = {k: v for k, v in launch.meta.items() if k in _OPTIONS}
    constexprs = {k: v for k, v in launch.meta.items() if k not in _OPTIONS}
    signature = {}
    for name, value in zip([n for n in launch.kernel.arg_names if n not in constexprs],
                           launch.args):
        if isinstance(value, torch.Tensor):
            signature[name] = _TYPES[value.dtype]
        elif isinstance(value, bool):
            signature[name] = "i1"
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
        usage = subprocess.run([tool, "-res-usage", f.name], capture_output=True, text=True,
                               check=True).stdout
    fields = dict(re.findall(r"(REG|STACK|SHARED|LOCAL):(\d+)", usage.split("Function")[-1]))
    return {"kernel": launch.name, "registers": int(fields.get("REG", -1)),
            "spill_bytes": int(fields.get("LOCAL", 0)) + int(fields.get("STACK", 0)),
            "shared_bytes": int(compiled.metadata.shared),
            "num_warps": options.get("num_warps", 4),
            "constexprs": {k: v for k, v in constexprs.items() if k.isupper()}}
