"""Only the package list lives here: the top-level ``kernels/`` folder installs as
``causalppl.kernels`` (fixed layout), which needs a computed ``packages``/``package_dir``.
Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

kernel_packages = ["causalppl.kernels"] + [f"causalppl.kernels.{p}" for p in find_packages("kernels")]

setup(
    packages=find_packages(include=["causalppl", "causalppl.*"]) + kernel_packages,
    package_dir={"causalppl.kernels": "kernels"},
)
