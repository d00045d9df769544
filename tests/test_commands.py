"""Every management command of the project answers `--help` (a help text is %-formatted by
argparse: a bare `%` in it crashed `bench_apportion --help`)."""

import pytest
from django.core.management import get_commands, load_command_class

PROJECT_APPS = {"members", "claims", "billing", "notifications", "office", "mutual"}
OURS = sorted((name, app) for name, app in get_commands().items() if app in PROJECT_APPS)


def test_the_project_has_its_commands():
    names = {name for name, _ in OURS}
    assert {"bench_apportion", "seed_demo", "verify_ledger"} <= names


@pytest.mark.parametrize(("name", "app"), OURS, ids=[name for name, _ in OURS])
def test_every_command_prints_its_help(name, app):
    command = load_command_class(app, name)
    text = command.create_parser("manage.py", name).format_help()
    assert f"manage.py {name}" in text and command.help.split()[0] in text
