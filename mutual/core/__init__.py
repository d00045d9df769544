"""Pieces every app shares, which import no app (tests/test_core_imports.py checks it): errors,
transitions, money, the local time zone, admin helpers, the API's base classes, parsers,
filters and schema, and the data migrations' helpers. The rest of `mutual/` wires the project
together (settings, URLs, Celery, servers, logins); the features that read every app (the
dashboard, the demo, the benchmarks) live in the `office` app."""
