"""The test suite's settings: the product's, read as `make run` reads them (DJANGO_DEBUG=1).

DEBUG is off unless DJANGO_DEBUG says otherwise, and then a real DJANGO_SECRET_KEY is required.
The suite sets the variable here, before mutual.settings is read, so that `pytest` alone works;
pytest-django still runs every test with DEBUG off. The variable is set in the environment, so
the worker processes and subprocesses the tests start read the same. Tests of the production
settings start their own process with the environment they check (tests/test_settings.py)."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from mutual.settings import *  # noqa: F403
