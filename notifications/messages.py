"""A notice's subject and text, from its kind and details, in the words of the domain app that
tells it (each registers a renderer for its kinds in its notices.py). Rendered when it is sent
and when the API shows it, so a wording fix reaches notices already written."""

from __future__ import annotations

from collections.abc import Callable

from mutual.core.errors import InvariantError

Renderer = Callable[[dict], tuple[str, str]]
_RENDERERS: dict[str, Renderer] = {}


def renders(kind: str) -> Callable[[Renderer], Renderer]:
    """Decorator: the function turning a `kind` notice's payload into (subject, body)."""

    def register(function: Renderer) -> Renderer:
        _RENDERERS[str(kind)] = function
        return function

    return register


def render(kind: str, payload: dict) -> tuple[str, str]:
    renderer = _RENDERERS.get(str(kind))
    if renderer is None:
        raise InvariantError(f"no renderer for notices of kind {kind!r}")
    return renderer(payload)
