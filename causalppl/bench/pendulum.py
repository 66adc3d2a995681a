"""``causalppl bench pendulum``: Deep SCM counterfactual images of pendulum scenes, against the truth.

The three :class:`~causalppl.models.DeepSCM` variants (independent, conditional, full) are
fitted to rendered 32 x 32 scenes (:func:`causalppl.datasets.pendulum`: a pendulum's angle and
a light's angle cast a shadow whose length and position they determine, up to noise), then
asked for the counterfactual images of held-out units under ``do(pendulum)``, ``do(light)``
and ``do(shadow_length)``, each unit's new value drawn from the data (a random permutation of
the test units' own values). Every image is scored against the unit's TRUE counterfactual,
re-rendered from its own noise (:mod:`causalppl.bench._deep_scm` lists the metrics).
"""

from __future__ import annotations

import sys

import torch

from ..datasets import pendulum
from ._deep_scm import Scene, main_for

__all__ = ["main"]

TARGETS = ("pendulum", "light", "shadow_length")


def _interventions(train: dict, test: dict, generator: torch.Generator) -> dict:
    n = len(test["image"])
    return {name: {name: test[name][torch.randperm(n, generator=generator)]} for name in TARGETS}


SCENE = Scene(
    name="pendulum",
    data="pendulum",
    make=lambda n, seed: pendulum(n, seed, size=32),
    interventions=_interventions,
    full=dict(
        n_train=20_000,
        n_test=1_000,
        steps=6_000,
        batch_size=128,
        lr=2e-3,
        latent_dim=2,  # the scene has no style beyond its four variables; a wide z absorbs them
        network="conv",
        hidden=(256,),
        channels=(32, 64),
        pixel_scale=0.1,
        particles=32,
        timing_units=1_000,
    ),
    quick=dict(
        n_train=400,
        n_test=48,
        steps=30,
        batch_size=64,
        lr=2e-3,
        latent_dim=4,
        network="mlp",
        hidden=(32,),
        channels=(8, 16),
        pixel_scale=0.1,
        particles=4,
        timing_units=48,
    ),
    notes=(
        "Interventions: `do(pendulum)`, `do(light)` and `do(shadow_length)`, each test unit's value drawn "
        "from the test units' own (a permutation). Effectiveness is read with `pd.measure` (where each part "
        "is drawn); units whose shadow has no measurable position are left out of it.\n\n"
        "Settings tried for the full variant (same data, 6,000 steps at lr 2e-3): latent_dim 16 gave errors "
        "0.86x, 0.77x and 0.87x the best baseline, and moved the pendulum only partly (its angle read "
        "0.55 sd off the intervened value): z carried the pendulum's position; latent_dim 2 (kept): the "
        "tables below."
    ),
)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; ``argv`` as on the command line (``--quick``, ``--out``, overrides).

    Example::

        causalppl bench pendulum --quick --out /tmp/pendulum.md
    """
    return main_for(SCENE, argv if argv is not None else sys.argv[1:])
