"""What a Deep SCM needs to know of an image data set: its attributes, labels and image.

A data set's scene is a small causal graph of scalar attributes (a digit's thickness and
intensity; a pendulum's angle, its light and its shadow) and categorical labels (the digit),
all of them parents of the image. :class:`ImageData` declares it once, so one
:class:`~causalppl.models.DeepSCM` serves every data set; :data:`DATASETS` holds the two
shipped ones, declared here from their documented generative processes
(:mod:`causalppl.datasets.morpho_digits`, :mod:`causalppl.datasets.pendulum`) with the
centre and spread of each attribute measured on 5000 rendered units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from causalppl import checks
from causalppl.errors import CausalError

__all__ = ["DATASETS", "Attribute", "ImageData"]

SUPPORTS = ("real", "positive", "unit_interval")
RESERVED = ("image", "z")  # the sites every Deep SCM adds itself


@dataclass(frozen=True)
class Attribute:
    """A scalar attribute of the scene: its parents, its support and its rough scale.

    Args:
        parents: the attributes it depends on in the data's graph (a variant without
            attribute edges makes it a root).
        support: ``"real"``, ``"positive"`` (modelled as ``log x``) or ``"unit_interval"``
            (modelled as ``logit x``), as :func:`causalppl.nn.attribute_flow`.
        loc, scale: its rough centre and spread in those modelled units: the flow starts
            there, and networks read the attribute as ``(y - loc) / scale``, about unit scale.

    Example:
        >>> Attribute(("thickness",), "unit_interval", loc=0.6, scale=1.1).parents
        ('thickness',)
    """

    parents: tuple[str, ...] = ()
    support: str = "real"
    loc: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class ImageData:
    """The causal structure of an image data set: attributes and labels, all parents of the image.

    Args:
        attributes: name -> :class:`Attribute`, parents listed before their children.
        labels: name -> number of classes of each categorical root (the digit); a decoder
            reads a label one-hot.
        channels: the image's channels.
        sizes: the square image sizes the data set renders (the first is the default).

    Example:
        >>> scene = ImageData({"angle": Attribute(loc=0.0, scale=20.0)}, sizes=(32, 64))
        >>> scene.sites
        ('angle', 'image')
        >>> ImageData({"b": Attribute(("a",))})
        Traceback (most recent call last):
        ...
        causalppl.errors.CausalError: attributes: 'b' has parent 'a', which is not an attribute listed before it
    """

    attributes: Mapping[str, Attribute]
    labels: Mapping[str, int] = field(default_factory=dict)
    channels: int = 1
    sizes: tuple[int, ...] = (28,)

    def __post_init__(self):
        attributes = checks.mapping(self.attributes, "attributes")
        labels = checks.mapping(self.labels, "labels")
        if not attributes and not labels:
            raise CausalError("attributes and labels are both empty: the image needs at least one parent")
        for name in [*labels, *attributes]:
            if name in RESERVED or (name in labels and name in attributes):
                raise CausalError(
                    f"{name!r} is used twice: names in attributes and labels must be distinct from "
                    f"each other and from {', '.join(map(repr, RESERVED))}"
                )
        seen = set(labels)
        for name, attr in attributes.items():
            if not isinstance(attr, Attribute):
                raise CausalError(f"attributes[{name!r}] must be an Attribute, got {type(attr).__name__}")
            checks.choice(attr.support, f"attributes[{name!r}].support", SUPPORTS)
            checks.finite_number(attr.loc, f"attributes[{name!r}].loc")
            checks.positive_number(attr.scale, f"attributes[{name!r}].scale")
            for parent in attr.parents:
                if parent not in attributes or parent not in seen:
                    raise CausalError(
                        f"attributes: {name!r} has parent {parent!r}, which is not an attribute listed before it"
                    )
            seen.add(name)
        for name, k in labels.items():
            checks.int_at_least(k, f"labels[{name!r}]", 2)
        object.__setattr__(self, "attributes", attributes)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "channels", checks.positive_int(self.channels, "channels"))
        object.__setattr__(self, "sizes", checks.int_tuple(self.sizes, "sizes"))
        if not self.sizes:
            raise CausalError("sizes must name at least one image size, got ()")

    @property
    def sites(self) -> tuple[str, ...]:
        """The observed sites of a model of this data: labels, attributes, then ``image``."""
        return (*self.labels, *self.attributes, "image")


DATASETS = {
    # digit ~ Uniform{0..9}; thickness = 0.5 + Gamma(10, 5) pixels; intensity / 255 a
    # squashed function of the thickness plus noise, in (0.25, 1).
    "morpho_digits": ImageData(
        {
            "thickness": Attribute((), "positive", loc=0.88, scale=0.26),
            "intensity": Attribute(("thickness",), "unit_interval", loc=0.64, scale=1.1),
        },
        labels={"digit": 10},
        sizes=(28,),
    ),
    # Two uniform angles (degrees) cast a shadow whose length and position they determine,
    # up to noise; the length is positive.
    "pendulum": ImageData(
        {
            "pendulum": Attribute((), "real", loc=1.6, scale=22.0),
            "light": Attribute((), "real", loc=93.0, scale=23.0),
            "shadow_length": Attribute(("pendulum", "light"), "positive", loc=1.1, scale=1.1),
            "shadow_position": Attribute(("pendulum", "light"), "real", loc=10.6, scale=3.5),
        },
        sizes=(32, 64),
    ),
}
