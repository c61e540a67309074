"""Standard-library-only helper: make sure we run inside the project's virtualenv.

`python3 run.py` and `python3 manage.py ...` call ensure_venv() first, so a newcomer needs
nothing but Python 3.11+: the venv is created and the requirements are installed once
(again whenever a requirements file changes), then the script re-executes itself in it.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HOSPITAL_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _requirements(dev: bool) -> Path:
    return ROOT / ("requirements-dev.txt" if dev else "requirements.txt")


def _stamp(dev: bool) -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "requirements-dev.txt") if dev else ("requirements.txt",):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def ensure_venv(dev: bool = False) -> None:
    """Create/refresh .venv as needed and re-exec this script inside it."""
    if sys.version_info < (3, 11):  # noqa: UP036  (runs before the venv exists)
        sys.exit("Python 3.11 or newer is required")
    if os.environ.get("HOSPITAL_NO_VENV"):
        return
    if not PYTHON.exists():
        print(f"Creating virtualenv in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp_file = VENV / (".installed-dev" if dev else ".installed")
    stamp = _stamp(dev)
    if not stamp_file.exists() or stamp_file.read_text() != stamp:
        print(f"Installing {_requirements(dev).name} ...", flush=True)
        subprocess.check_call([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade",
                               "pip"])
        subprocess.check_call([str(PYTHON), "-m", "pip", "install", "--quiet", "-r",
                               str(_requirements(dev))])
        stamp_file.write_text(stamp)
    if not _in_venv():
        os.execv(str(PYTHON), [str(PYTHON), *sys.argv])
