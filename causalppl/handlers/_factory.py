"""Turn a Messenger class into a lowercase handler: wrapper and context manager in one."""

from __future__ import annotations

import functools

from pyro.poutine.messenger import Messenger
from pyro.poutine.util import site_is_subsample

from ..errors import CausalError, UnknownSiteError

__all__ = ["make_handler", "SiteCheckingMessenger"]


def make_handler(messenger_cls: type[Messenger]):
    """``handler(model, *args)`` wraps ``model``; ``handler(*args)`` is a context manager.

    This mirrors ``pyro.poutine``'s handlers: the first argument is the program when it is
    callable, else the handler's own first argument.
    """

    @functools.wraps(messenger_cls, updated=())
    def handler(fn=None, *args, **kwargs):
        if fn is not None and not callable(fn):
            if args:  # handler(model, settings) with a model that is not a program
                raise CausalError(
                    f"{handler.__name__}'s first argument must be the model (a Pyro program, a callable), got "
                    f"{type(fn).__name__}: {fn!r}"
                )
            args, fn = (fn, *args), None
        messenger = messenger_cls(*args, **kwargs)
        return messenger(fn) if fn is not None else messenger

    handler.__doc__ = messenger_cls.__doc__
    handler.__name__ = handler.__qualname__ = messenger_cls.__name__.removesuffix("Messenger").lower()
    return handler


class SiteCheckingMessenger(Messenger):
    """Remembers which sites ran, and on a clean exit raises for names that never did.

    Plain ``pyro.poutine.do`` and ``condition`` silently ignore a misspelled site name;
    a subclass lists the names it expects in ``self._expected`` and gets a loud error.
    """

    _role = "site"

    def __init__(self, expected):
        super().__init__()
        self._expected = frozenset(expected)

    def __enter__(self):
        self._seen: list[str] = []
        return super().__enter__()

    def __exit__(self, exc_type, exc_value, traceback):
        result = super().__exit__(exc_type, exc_value, traceback)
        if exc_type is None:
            missing = self._expected - set(self._seen)
            if missing:
                raise UnknownSiteError.naming(missing, self._seen, role=self._role)
        return result

    def _note(self, msg) -> bool:
        """Record the site; True when it is one of ours."""
        if site_is_subsample(msg):
            return False
        if not msg["infer"].get("_cp_internal"):
            self._seen.append(msg["name"])
        return msg["name"] in self._expected
