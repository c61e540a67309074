"""Locations used by the benchmark harness."""
from __future__ import annotations

import os
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
WORK = RESULTS / "work"  # generated request files, logs, raw profiles
LUA = BENCH / "lua" / "bench.lua"
VENV_BIN = Path(os.environ.get("HOSPITAL_VENV", ROOT / ".venv")) / (
    "Scripts" if os.name == "nt" else "bin")
