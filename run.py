#!/usr/bin/env python3
"""Start the service for development on http://127.0.0.1:5000.

Creates .venv and installs the requirements on first use, applies the migrations,
bootstraps the first admin, then serves. Set APP_ENV/DATABASE_URL etc. as for any start.
"""
import os
import signal
import sys

import devenv

if __name__ == "__main__":
    devenv.ensure_venv()
    # SIGTERM (e.g. from a process manager) and SIGHUP (the terminal was closed) exit like
    # Ctrl-C does, running the exit handlers, so the embedded PostgreSQL started for
    # development is stopped on the way out. Under `nohup`, SIGHUP stays ignored.
    signal.signal(signal.SIGTERM, lambda _signo, _frame: sys.exit(0))
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, lambda _signo, _frame: sys.exit(0))
    from dotenv import load_dotenv

    load_dotenv()
    from flask_migrate import upgrade

    from app import create_app
    from app.ops.bootstrap import bootstrap_admin

    app = create_app({"ADMIN_BOOTSTRAP": False})  # bootstrapped below, after upgrading
    with app.app_context():
        upgrade()
        bootstrap_admin(app)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    if os.environ.get("USE_WAITRESS", "1") == "1":
        from waitress import serve

        print(f"Serving on http://{host}:{port}/ (Swagger UI at /)", flush=True)
        serve(app, host=host, port=port, threads=int(os.environ.get("WAITRESS_THREADS", "8")))
    else:
        app.run(host=host, port=port)
