"""Realistic demo data, written fast with COPY (see seed.py for the command line)."""
from .runner import DEFAULT_PASSWORD, SeedOptions, SeedRefused, SeedReport, seed_database
from .scales import SCALES

__all__ = ["DEFAULT_PASSWORD", "SCALES", "SeedOptions", "SeedRefused", "SeedReport",
           "seed_database"]
