"""The Deep SCM paper's hand-written counterfactual recipe, for a side-by-side benchmark.

Pawlowski, Castro & Glocker's code computes a counterfactual of a Pyro model by hand:

1. re-express every site as a transformed base noise (``pyro.infer.reparam.TransformReparam``
   on each ``TransformedDistribution`` site; the image ``Normal(mu, sigma)`` written as
   ``mu + sigma * u`` with ``u ~ Normal(0, 1)``);
2. draw ``z`` from the encoder, run the model conditioned on the evidence and ``z``, and invert
   each site's transforms at its observed value to get its base noise;
3. condition the re-expressed program on that noise (and ``z`` and the labels), apply
   ``pyro.poutine.do`` and run it again.

:func:`recipe_counterfactual` does exactly this on a trained
:class:`~causalppl.models.DeepSCM`, reading its mechanisms through the model's own modules;
:func:`compare` times it beside :func:`causalppl.counterfactual` on the same model and
checks that both give the same images for the same ``z`` (:func:`mean_guide`).
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import torch
from pyro.distributions.transforms import AffineTransform, ComposeTransform
from pyro.infer.reparam import TransformReparam

from ..queries import counterfactual
from ._harness import measure_side_by_side

__all__ = ["compare", "mean_guide", "recipe_counterfactual"]


def _explicit_noise_program(scm):
    """``scm.forward`` written out with the image as a transformed standard Normal."""

    def program():
        values = {}
        for label, logits in scm.label_logits.items():
            values[label] = pyro.sample(label, dist.Categorical(logits=logits))
        for name, law in scm.laws.items():
            values[name] = pyro.sample(name, law([scm.standardise(p, values[p]) for p in scm.parents[name]]))
        values["z"] = pyro.sample("z", dist.Normal(scm.z_loc, 1.0).to_event(1))
        law = scm.likelihood(scm.decoder(values["z"], scm.context(values)))
        base = dist.Normal(torch.zeros_like(law.loc), 1.0).to_event(3)
        values["image"] = pyro.sample(
            "image", dist.TransformedDistribution(base, [AffineTransform(law.loc, law.scale, event_dim=3)])
        )
        return values

    return program


def _reparam_config(msg):
    return TransformReparam() if isinstance(msg["fn"], dist.TransformedDistribution) else None


def recipe_counterfactual(scm, evidence: dict, do: dict, guide=None) -> dict:
    """Counterfactuals of ``n`` observed units by the Deep SCM repository's recipe.

    Args:
        scm: a trained :class:`~causalppl.models.DeepSCM`.
        evidence: every observed site, ``[n, ...]`` tensors (labels, attributes, ``image``).
        do: ``{site: number or [n] tensor}``.
        guide: draws ``z`` given the evidence (default ``scm.guide``).

    Returns:
        ``{site: [n, ...]}``: the counterfactual value of every site, ``z`` included.

    Example:
        >>> import torch
        >>> from causalppl import datasets, models
        >>> md = datasets.morpho_digits(n=4, seed=0)
        >>> scm = models.DeepSCM("full", latent_dim=2, network="mlp", hidden=(8,))
        >>> cf = recipe_counterfactual(scm, md.data, {"thickness": torch.full((4,), 3.0)})
        >>> cf["image"].shape, cf["thickness"].tolist()
        (torch.Size([4, 1, 28, 28]), [3.0, 3.0, 3.0, 3.0])
    """
    guide = scm.guide if guide is None else guide
    n = evidence["image"].shape[0]
    program = _explicit_noise_program(scm)
    with torch.no_grad():
        # Abduction: z from the encoder, then every transformed site's base noise by inversion.
        z = poutine.trace(guide).get_trace(**evidence).nodes["z"]["value"]
        observed = {**evidence, "z": z}
        with pyro.plate("unit", n):
            factual = poutine.trace(poutine.condition(program, data=observed)).get_trace()
        noise = {"z": z, **{label: evidence[label] for label in scm.label_logits}}
        for name, site in factual.nodes.items():
            if site["type"] == "sample" and isinstance(site["fn"], dist.TransformedDistribution):
                noise[f"{name}_base"] = ComposeTransform(site["fn"].transforms).inv(site["value"])
        # Action and prediction: the re-expressed program on the same noise, intervened on.
        scm_program = poutine.reparam(program, config=_reparam_config)
        with pyro.plate("unit", n):
            return poutine.do(poutine.condition(scm_program, data=noise), data=do)()


def mean_guide(scm):
    """``scm``'s guide with ``z`` at the encoder's mean (a deterministic abduction).

    Example:
        >>> from causalppl import datasets, models
        >>> md = datasets.morpho_digits(n=3, seed=0)
        >>> scm = models.DeepSCM("full", latent_dim=2, network="mlp", hidden=(8,))
        >>> tuple(mean_guide(scm)(**md.data).shape)
        (3, 2)
    """

    def guide(image, **observed):
        with pyro.plate("unit", image.shape[0]):
            loc, _ = scm.encoder(image.to(scm.z_loc.dtype), scm.context(observed))
            return pyro.sample("z", dist.Delta(loc).to_event(1))

    return guide


def compare(scm, test: dict, do: dict, units: int, repeat: int = 5) -> dict:
    """``cp.counterfactual`` and :func:`recipe_counterfactual` side by side on ``units`` units.

    Returns images per second of each (timed round-robin, the default guide for both) and
    the largest pixel difference between their images for the same ``z`` (the encoder's
    mean, :func:`mean_guide`).

    Example:
        >>> from causalppl import datasets, models
        >>> md = datasets.morpho_digits(n=4, seed=0)
        >>> scm = models.DeepSCM("full", latent_dim=2, network="mlp", hidden=(8,))
        >>> r = compare(scm, md.data, {"thickness": md.data["thickness"].flip(0)}, units=4, repeat=1)
        >>> r["timing_units"], r["recipe_max_abs_diff"] < 1e-4
        (4, True)
    """
    ev = {k: v[:units] for k, v in test.items()}
    do = {k: v[:units] for k, v in do.items()}
    t = measure_side_by_side(
        {
            "ours": lambda: counterfactual(scm, evidence=ev, do=do, guide=scm.guide, num_samples=1, seed=0),
            "recipe": lambda: recipe_counterfactual(scm, ev, do),
        },
        repeat=repeat,
    )
    guide = mean_guide(scm)  # the same z in both, so the images must agree to rounding
    ours = counterfactual(scm, evidence=ev, do=do, guide=guide, num_samples=1, seed=0)
    theirs = recipe_counterfactual(scm, ev, do, guide=guide)
    diff = (torch.as_tensor(ours.image.sel(world="counterfactual").values[0]) - theirs["image"]).abs().max()
    n = len(ev["image"])
    return {
        "timing_units": n,
        "cf_images_per_s": n / t["ours"],
        "recipe_cf_images_per_s": n / t["recipe"],
        "recipe_max_abs_diff": float(diff),
    }
