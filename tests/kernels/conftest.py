"""Kernel tests run in one Triton mode per process (kernels/README.md, "one mode per process").

The mode is fixed, and the tests a process cannot run are skipped, by the repository's root
``conftest.py`` (``pytest_collection_modifyitems``), for every test module: interpreter
tests also live outside this folder (``tests/scm/test_kernel_route.py``, the tutorials).
"""

import pytest
from hypothesis import given, settings

# Where a kernel check runs: (backend, device).
KERNEL_CASES = {"interpret": ("interpret", "cpu"), "interpret-many": ("interpret", "cpu"), "gpu": ("triton", "cuda")}


@pytest.fixture(
    params=[
        pytest.param("interpret", marks=pytest.mark.interpreter),
        pytest.param("interpret-many", marks=[pytest.mark.interpreter, pytest.mark.slow]),
        pytest.param("gpu", marks=pytest.mark.gpu),
    ]
)
def kernel_case(request):
    """One kernel check against the reference, in each case: ``interpret`` (Triton's
    interpreter on the CPU), ``interpret-many`` (the same, slow: more and larger examples) and
    ``gpu`` (compiled Triton on CUDA).

    ``kernel_case(check, cases)`` runs ``check(s, backend, device)`` on hypothesis draws ``s``;
    ``cases`` maps each case the check runs in to ``(max_examples, shapes strategy)``, and a
    case it leaves out is skipped. Hypothesis keys its example database by a test's source,
    here the same for every check and case: the test id is added to the key, as hypothesis's
    pytest plugin does for a parametrised ``@given`` test, so each replays its own failures.
    """
    backend, device = KERNEL_CASES[request.param]

    def run(check, cases):
        if request.param not in cases:
            pytest.skip(f"{check.__name__} has no {request.param!r} case")
        max_examples, shapes = cases[request.param]

        @settings(max_examples=max_examples)
        @given(shapes)
        def examples(s):
            check(s, backend, device)

        examples.hypothesis.inner_test._hypothesis_internal_add_digest = request.node.nodeid.encode()
        examples()

    return run
