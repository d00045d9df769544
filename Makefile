# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_MEMBERS ?= 2000
PORT ?= 8000

.PHONY: install run dev prepare test lint format stop bench clean browser check-deploy audit

# Re-install only when the dependencies change.
$(VENV)/.installed: pyproject.toml billing/_leaves.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The demo runs with DEBUG on (a development key); anything else, a test or a deployment, has
# DEBUG off unless DJANGO_DEBUG says otherwise. Web is gunicorn with whitenoise (the Procfile);
# `make dev` is the same with runserver's autoreload (Procfile.dev).
run: export DJANGO_DEBUG ?= 1
run: prepare
	PORT=$(PORT) $(BIN)/honcho start

dev: export DJANGO_DEBUG ?= 1
dev: prepare
	PORT=$(PORT) $(BIN)/honcho -f Procfile.dev start

prepare: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@# Demo data and logins (published passwords) only with DEBUG on, as `make run` sets it.
	@case "$$(echo "$${DJANGO_DEBUG:-}" | tr A-Z a-z)" in \
	  1|true|yes|on) $(BIN)/python manage.py seed_demo --members $(DEMO_MEMBERS) --seed 1 \
	    && $(BIN)/python manage.py demo_admin ;; \
	  *) echo "DJANGO_DEBUG is off: no demo data and no demo logins (make run sets it)." ;; \
	esac
	@echo ""
	@echo "  Admin:  http://127.0.0.1:$(PORT)/admin/"
	@echo "  API:    http://127.0.0.1:$(PORT)/api/"
	@echo "  Health: http://127.0.0.1:$(PORT)/healthz"
	@echo ""

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The browser tests drive Debian's Chromium: installed here when missing (as root), otherwise
# those tests are skipped with this message.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -q >/dev/null \
	  && apt-get install -y -q chromium >/dev/null; } \
	  || echo "Chromium could not be installed: the browser tests will be skipped."
	@# Chinese glyphs for the zh-hans screenshots (without them, boxes); optional.
	@fc-list :lang=zh 2>/dev/null | grep -q . || { [ "$$(id -u)" = 0 ] \
	  && apt-get install -y -q fonts-noto-cjk >/dev/null 2>&1; } || true

# The production settings pass Django's deployment checks, as README's "Security" documents
# them: DEBUG off, a random key, HTTPS behind a proxy. Nothing connects (placeholder services).
PRODUCTION_ENV := DJANGO_DEBUG=0 DJANGO_ALLOWED_HOSTS=mutual.example.org \
  DJANGO_SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto DJANGO_SECURE_HSTS_PRELOAD=1 \
  DATABASE_URL=postgresql://mutual@db.invalid/mutual REDIS_URL=redis://redis.invalid:6379/0
check-deploy: install
	env $(PRODUCTION_ENV) DJANGO_SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	  MUTUAL_LEAF_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(32))')" \
	  MUTUAL_SIGNING_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(32))')" \
	  MUTUAL_FIELD_KEYS="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(32))')" \
	  MUTUAL_BLIND_INDEX_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(32))')" \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING

# Known vulnerabilities in the installed dependencies (pip-audit); accepted ones are listed with
# a reason in .ci/pip-audit-ignore. An audit that cannot reach the advisory database fails
# unless MUTUAL_SKIP_AUDIT=1 (then it warns); a vulnerability found always fails.
audit: install
	$(BIN)/python .ci/audit.py

# Tests use their own embedded servers (var/test) and queue, apart from a running `make run`.
test: lint check-deploy audit browser
	MUTUAL_DATA_DIR=$(CURDIR)/var/test MUTUAL_CELERY_QUEUE=test $(BIN)/pytest $(PYTEST_ARGS)

# Stops the embedded PostgreSQL and Redis (they outlive `make run` so that restarts are fast).
stop: install
	$(BIN)/python -c "from pathlib import Path; import os; from mutual.embedded import stop_all; stop_all(Path(os.environ.get('MUTUAL_DATA_DIR', 'var')).resolve())"

clean: stop
	rm -rf var
