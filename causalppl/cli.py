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
    demo.add_argument("--quick", action="store_true", help="a few seconds, for tests")
    demo.add_argument("--out", default=None, help="output folder")
    bench = sub.add_parser("bench", help="run a benchmark and write its results file")
    bench.add_argument("name", choices=_bench_names() + ["all"])
    args, rest = parser.parse_known_args(argv)
    if args.command == "demo":
        from causalppl import demo as demo_module

        rest = (["--quick"] if args.quick else []) + (["--out", args.out] if args.out else []) + rest
        return demo_module.main(rest) or 0
    names = _bench_names() if args.name == "all" else [args.name]
    for name in names:
        importlib.import_module(f"causalppl.bench.{name}").main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
