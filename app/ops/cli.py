"""Flask CLI commands: `flask create-admin NAME`, `flask bootstrap-admin`."""
from __future__ import annotations

import click
from flask import Flask, current_app

from app.errors import ApiError
from app.validation import validate


def init_cli(app: Flask) -> None:
    """Register the commands on the app."""

    @app.cli.command("create-admin")
    @click.argument("username")
    @click.option("--phone", default=None,
                  help="Phone number (default: ADMIN_PHONE, or a random one when that is taken)")
    @click.option("--password", default=None,
                  help="Password (default: ADMIN_PASSWORD, else generated and printed once)")
    def create_admin_command(username: str, phone: str | None, password: str | None) -> None:
        """Create an administrator account NAME."""
        from app.ops.bootstrap import available_admin_phone, generate_password
        from app.schemas.users import USER_CREATE
        from app.services.users import create_user

        generated = not (password or current_app.config.get("ADMIN_PASSWORD"))
        password = password or current_app.config.get("ADMIN_PASSWORD") or generate_password()
        phone = phone or available_admin_phone(current_app.config["ADMIN_PHONE"])
        try:
            data = validate(USER_CREATE, {"username": username, "phone_number": phone,
                                          "password": password})
            user = create_user(**data, is_admin=True)
        except ApiError as exc:
            raise click.ClickException(f"{exc.message} {exc.errors or ''}".strip()) from None
        if generated:
            click.echo(f"Generated admin password: {password}")
        click.echo(f"Created admin user {user.username!r} (id {user.id})")

    @app.cli.command("bootstrap-admin")
    def bootstrap_admin_command() -> None:
        """Create the ADMIN_USERNAME admin if no admin exists yet (idempotent)."""
        from app.ops.bootstrap import bootstrap_admin

        bootstrap_admin(current_app)
