"""Persons (实名制): fictitious resident ID numbers, kept as the API keeps them.

Each patient line names its person; a person's row holds the keyed fingerprint of the number
(or NULL for a patient registered without one) and the patient line its masked form, exactly
what app/services/patients.py writes, so the seeded rows match what the API would match.
"""
from __future__ import annotations

import datetime as dt
import random

from psycopg2.extensions import cursor as Cursor

from app.seeding.loader import next_free_id
from app.services import id_numbers

PERSON_COLUMNS = ("id", "id_number_hash", "created_at")
# Most patients were registered with their number, the rest without one.
NUMBERED_SHARE = 0.87
# A family's members usually share a place of birth (the first 6 digits).
SAME_REGION_SHARE = 0.8
# Real district codes (行政区划代码): 北京朝阳, 上海浦东, 广州天河, 杭州西湖, 成都武侯,
# 武汉武昌, 南京玄武, 济南历下, 西安雁塔, 重庆渝中, 沈阳和平, 长沙芙蓉, 郑州金水, 福州鼓楼.
REGIONS = ("110105", "310115", "440106", "330106", "510107", "420106", "320102", "370102",
           "610113", "500103", "210102", "430102", "410105", "350102")


class Persons:
    """Allocates person ids and writes their COPY lines; never gives a number out twice."""

    def __init__(self, rng: random.Random, key: str, first_id: int,
                 taken: set[bytes]) -> None:
        self.rng, self.key = rng, key
        self.next_id = first_id
        self.taken = taken  # fingerprints already in use (in the database or this batch)
        self.lines: list[str] = []

    @classmethod
    def for_batch(cls, cur: Cursor, rng: random.Random, key: str) -> Persons:
        """Persons continuing after the database's, avoiding the numbers it knows."""
        first_id = next_free_id(cur, "persons")
        cur.execute("SELECT id_number_hash FROM persons WHERE id_number_hash IS NOT NULL")
        return cls(rng, key, first_id, {bytes(digest) for digest, in cur.fetchall()})

    def region(self) -> str:
        """A place of birth."""
        return self.rng.choice(REGIONS)

    def number(self, region: str, birthday: dt.date, gender: str) -> tuple[str, bytes]:
        """A fictitious number for the birthday and gender (odd 17th digit for men) that no
        other person has, with its fingerprint."""
        parity = 1 if gender == "male" else 0
        while True:
            sequence = self.rng.randrange(1 - parity, 500) * 2 + parity
            number = id_numbers.make_number(region, birthday, sequence)
            digest = id_numbers.fingerprint(number, self.key)
            if digest not in self.taken:
                self.taken.add(digest)
                return number, digest

    def add(self, region: str, birthday: dt.date, gender: str,
            created: str) -> tuple[int, str | None]:
        """A new person created at `created` (a COPY timestamp): (id, masked number, or None
        for one registered without a number)."""
        person_id = self.next_id
        self.next_id += 1
        if self.rng.random() < NUMBERED_SHARE:
            number, digest = self.number(region, birthday, gender)
            masked: str | None = id_numbers.masked(number)
            stored = "\\\\x" + digest.hex()  # bytea in hex, its backslash escaped for COPY
        else:
            masked, stored = None, "\\N"
        self.lines.append(f"{person_id}\t{stored}\t{created}\n")
        return person_id, masked
