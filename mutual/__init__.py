try:
    from .celery import app as celery_app
except ModuleNotFoundError as error:  # only the standalone verifier (mutual/verify.py) runs
    if error.name not in ("celery", "django"):  # where neither Celery nor Django is installed
        raise
    celery_app = None

__all__ = ["celery_app"]
