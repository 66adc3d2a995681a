"""The ``causalppl`` command: ``causalppl demo`` and ``causalppl bench NAME``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

__all__ = ["main"]


def _bench_names() -> list[str]:
    import causalppl.bench as bench

    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``causalppl`` console script."""
    parser = argparse.ArgumentParser(prog="causalppl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit a neural SCM on the bundled Sachs data and query it")
    demo.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the demo (see --help)")
    bench = sub.add_parser("bench", help="run a benchmark and write its results file")
    bench.add_argument("name", choices=_bench_names() + ["all"])
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the benchmark")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from causalppl import demo as demo_module

        return demo_module.main(args.rest) or 0
    names = _bench_names() if args.name == "all" else [args.name]
    for name in names:
        importlib.import_module(f"causalppl.bench.{name}").main(args.rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
