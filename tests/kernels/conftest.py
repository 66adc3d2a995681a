"""Kernel tests run in one Triton mode per process (kernels/README.md, "one mode per process").

The mode is fixed, and the tests a process cannot run are skipped, by the repository's root
``conftest.py`` (``pytest_collection_modifyitems``), for every test module: interpreter
tests also live outside this folder (``tests/scm/test_kernel_route.py``, the tutorials).
"""
