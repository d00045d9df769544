"""Issue 13: the shared core imports no app. Its modules are imported in a fresh process where
only Django's and the third-party apps are installed, and no app module may have been loaded;
and no line of its source imports one (an import inside a function would load it later)."""

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import mutual.core

APPS = ("members", "claims", "billing", "office")
CORE = Path(mutual.core.__file__).parent
MODULES = sorted(f"mutual.core.{info.name}" for info in pkgutil.iter_modules([str(CORE)]))

_PROBE = """
import json, sys
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=[
        "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
        "django.contrib.sessions", "django.contrib.messages", "rest_framework",
        "django_filters", "drf_spectacular", "django_fsm", "django_fsm_log",
        "django_celery_beat",
    ],
    DATABASES={}, USE_TZ=True, TIME_ZONE="Asia/Shanghai",
)
django.setup()
for name in sys.argv[1:]:
    __import__(name)
print(json.dumps(sorted(sys.modules)))
"""


def test_the_core_modules_are_all_probed():
    assert {"mutual.core.errors", "mutual.core.money", "mutual.core.api"} <= set(MODULES)


def test_importing_the_core_loads_no_app():
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *MODULES],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert set(MODULES) <= set(loaded)
    apps_loaded = [name for name in loaded if name.split(".")[0] in APPS]
    assert apps_loaded == []


def test_no_core_source_line_imports_an_app():
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in APPS, f"{path.name} imports {name}"
