"""The formats of mutual.formats, for this language."""

from mutual.formats import *  # noqa: F403
