"""Settings for mutual, read from the environment. A bad value stops the process with its name.
One module per concern, read in this order: env (how a value is read), base, logins,
interfaces (the API), domain."""

from mutual.settings.base import *  # noqa: F403
from mutual.settings.domain import *  # noqa: F403
from mutual.settings.interfaces import *  # noqa: F403
from mutual.settings.logins import *  # noqa: F403
