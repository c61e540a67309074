"""Realistic demo data, written fast with COPY (see seed.py for the command line)."""
from app.seeding.runner import DEFAULT_PASSWORD, SeedOptions, SeedRefused, SeedReport, seed_database
from app.seeding.scales import SCALES

__all__ = ["DEFAULT_PASSWORD", "SCALES", "SeedOptions", "SeedRefused", "SeedReport",
           "seed_database"]
