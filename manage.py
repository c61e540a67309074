#!/usr/bin/env python3
"""Management entry point: the Flask CLI (db upgrade, create-admin, ...) plus `test`.

    python manage.py db upgrade
    python manage.py create-admin NAME
    python manage.py test [pytest args]   # creates .venv and installs what is needed first
"""
import sys

import devenv

if __name__ == "__main__":
    devenv.ensure_venv(dev=len(sys.argv) > 1 and sys.argv[1] == "test")
    if len(sys.argv) > 1 and sys.argv[1] == "test":
        import pytest

        sys.exit(pytest.main(sys.argv[2:]))
    from flask.cli import FlaskGroup

    from app import create_app

    FlaskGroup(create_app=create_app)(prog_name="manage.py")
