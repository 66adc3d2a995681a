"""Shared benchmark harness: timing, machine facts, results files."""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence

import torch

__all__ = ["measure", "measure_side_by_side", "machine", "write_results", "parser", "table"]


def measure(fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1, min_time: float = 0.0) -> float:
    """Median wall time of ``fn()`` in seconds (CUDA-synchronised when a GPU is in use).

    ``min_time`` repeats each timed call until that many seconds passed (for very fast calls).
    """
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        times.append(elapsed / n)
    return statistics.median(times)


def measure_side_by_side(
    fns: dict[str, Callable[[], object]], *, repeat: int = 7, warmup: int = 1, shuffle: bool = False
) -> dict[str, float]:
    """Median seconds of each function, timed round-robin so that load on a shared machine
    hits every contender alike (the ratios are what the results files report); with
    ``shuffle``, in a new (seeded) order each round, so cache warmth favours none."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    order, times = list(fns), {k: [] for k in fns}
    reorder = random.Random(0).shuffle if shuffle else (lambda names: None)
    for _ in range(repeat):
        reorder(order)
        for name in order:
            sync()
            start = time.perf_counter()
            fns[name]()
            sync()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def machine() -> str:
    """One line that says where a number was measured."""
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {dev}; "
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"torch threads {torch.get_num_threads()}"
    )


def parser(name: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"causalppl bench {name}", description=description)
    p.add_argument("--out", default=f"benchmarks/results/{name}.md", help="results file to write")
    p.add_argument("--quick", action="store_true", help="tiny sizes, for tests of the harness")
    return p


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(path: str, title: str, body: str, argv: Sequence[str] | None = None) -> str:
    """Write a results file headed by the command that produced it and the machine."""
    cmd = "causalppl bench " + " ".join([os.path.basename(sys.argv[0])] if argv is None else [])
    if argv is not None:
        cmd = f"causalppl bench {title.split()[0]} " + " ".join(argv)
    text = (
        f"# {title}\n\n"
        f"- command: `{cmd.strip()}`\n"
        f"- date: {_dt.date.today().isoformat()}\n"
        f"- machine: {machine()}\n\n"
        f"{body.rstrip()}\n"
    )
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    print(text)
    return path
