#!/usr/bin/env python3
"""Management entry point: the Flask CLI (db upgrade, create-admin, ...) plus `test`.

    python manage.py db upgrade
    python manage.py create-admin NAME
    python manage.py test [pytest args]   # creates .venv and installs what is needed first
    python manage.py --help               # every command; starts no database

Help (`--help`, `-h`, no arguments, `COMMAND --help`) and `routes` need no database: for them
the app is built without connecting to one, so no embedded PostgreSQL and no scheduler start.
"""
import sys

import devenv

HELP = """Manage the hospital registration service.

\b
  python3 manage.py db upgrade           apply the migrations
  python3 manage.py create-admin NAME    add an administrator
  python3 manage.py test [PYTEST ARGS]   run the test suite (`test --help` is pytest's)

`python3 run.py` is how to start the service: it creates the virtualenv and installs the
requirements when needed, applies the migrations, creates the first admin, then serves with
waitress. `python3 manage.py run` (the same as `flask run`) is Flask's development server
instead; started with --debug (`python3 manage.py --debug run`) it reloads on code changes and
shows the interactive debugger. It applies no migrations (run `python3 manage.py db upgrade`
first) and creates the first admin only once the schema is current.

When DATABASE_URL is unset, commands that use the database start the embedded PostgreSQL
(EMBEDDED_PG_DIR, default instance/pgdata); help and `routes` do not.
"""

HELP_OPTIONS = ("--help", "-h")
# Commands that read only the app's structure, never its database.
NO_DATABASE_COMMANDS = ("routes",)
# FlaskGroup's own options that take a value (they come before the command).
VALUE_OPTIONS = ("-e", "--env-file", "-A", "--app")


def needs_database(args: list[str]) -> bool:
    """False when the command line only asks for help, or runs a command needing no database."""
    words = args[:args.index("--")] if "--" in args else args
    position = 0  # skip FlaskGroup's own options, which come before the command
    while position < len(words) and words[position].startswith("-"):
        position += 2 if words[position] in VALUE_OPTIONS else 1
    command = words[position] if position < len(words) else None
    # `run -h HOST` is the host; everywhere else -h asks for help, like --help.
    help_options = ("--help",) if command == "run" else HELP_OPTIONS
    if command is None or any(word in help_options for word in words):
        return False
    return command not in NO_DATABASE_COMMANDS


def create_app_without_database():
    """The app with its commands and routes, but no database connection and no scheduler."""
    from app import create_app

    # SQLAlchemy only connects on first use; this URL is never used.
    return create_app({"SQLALCHEMY_DATABASE_URI": "postgresql://unused@localhost/unused",
                       "SCHEDULER_ENABLED": False, "ADMIN_BOOTSTRAP": False})


def run_tests(pytest_args) -> int:
    """pytest with these arguments; its exit status."""
    import pytest

    return pytest.main(list(pytest_args))


def cli(create_app):
    """The Flask CLI group, with `test` added for the help listing."""
    import click
    from flask.cli import FlaskGroup

    group = FlaskGroup(create_app=create_app, help=HELP,
                       context_settings={"help_option_names": list(HELP_OPTIONS)})

    @group.command("test", add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
    def test_command(pytest_args) -> None:
        """Run the test suite with pytest (arguments go to pytest)."""
        sys.exit(run_tests(pytest_args))

    return group


def main(args: list[str]) -> None:
    if not args:
        args = ["--help"]  # on stdout with exit status 0, unlike click's bare-group answer
    if args[:1] == ["test"]:
        # Before the Flask CLI, which would read .env into the tests' environment.
        sys.exit(run_tests(args[1:]))
    if needs_database(args):
        from app import create_app
    else:
        create_app = create_app_without_database
    cli(create_app)(args=args, prog_name="manage.py")


if __name__ == "__main__":
    devenv.ensure_venv(dev=len(sys.argv) > 1 and sys.argv[1] == "test")
    main(sys.argv[1:])
