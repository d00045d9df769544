"""gunicorn's settings, from the environment (the Procfile's web process).

WEB_CONCURRENCY worker processes (default 2 per core + 1), GUNICORN_THREADS threads each,
GUNICORN_TIMEOUT seconds before a silent worker is killed and replaced, GUNICORN_BIND the
address (default 127.0.0.1:$PORT: behind a reverse proxy on the same host; set 0.0.0.0:8000
when the proxy or load balancer is on another host). Each worker is replaced after
GUNICORN_MAX_REQUESTS requests (with jitter), so a slow leak never takes a host down."""

import multiprocessing
import os

# Read by mutual.settings (loaded after this file): a web process's statements have a timeout.
os.environ.setdefault("MUTUAL_PROCESS", "web")


def _int(name: str, default: int) -> int:
    value = os.environ.get(name) or ""
    try:
        return int(value) if value.strip() else default
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not an integer") from None


bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{_int('PORT', 8000)}"
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1)
threads = _int("GUNICORN_THREADS", 1)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
# An evidence upload may take a while to arrive; buffering it is the reverse proxy's job.
limit_request_line = 8190
# Django logs one JSON line per request (mutual.observability): gunicorn's own access log is
# off unless GUNICORN_ACCESS_LOG names a file ("-" for stdout).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
# The settings are read once, in the master, so a bad setting stops the start, not each worker.
preload_app = True
wsgi_app = "mutual.wsgi:application"
# gunicorn's control socket sits in the user's home, shared by every instance on the host.
control_socket_disable = True


def on_starting(server) -> None:
    """Without the transparency keys (DEBUG off) proofs and the public key would fail, and a
    demo login is a back door: stop."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mutual.settings")
    django.setup()
    from mutual.core.startup import run_start_checks

    run_start_checks("WEB_START_CHECKS")  # named in settings: this module imports no app
