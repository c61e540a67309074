"""Names, phone numbers and usernames: Faker pools drawn once, then a seeded Random."""
from __future__ import annotations

import itertools
import random
from collections.abc import Iterable

from faker import Faker

from app.seeding.texts import MOBILE_PREFIXES, SURNAMES

POOL_DRAWS = 1500
# Zipf-like weights: 王, 李 and 张 far more common than 欧阳.
SURNAME_CUM_WEIGHTS = list(itertools.accumulate(1 / (rank + 1) ** 0.8
                                                for rank in range(len(SURNAMES))))


def _pool(draw, count: int) -> list[str]:
    # Sorted: set order depends on string hashing, which changes between processes.
    return sorted({draw() for _ in range(count)})


class People:
    """Generates people data deterministically from `rng` and Faker seeded with `seed`."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        self.rng = rng
        fake = Faker("zh_CN")
        fake.seed_instance(seed)
        self.male_given = _pool(fake.first_name_male, POOL_DRAWS)
        self.female_given = _pool(fake.first_name_female, POOL_DRAWS)
        self.user_names = [name for name in _pool(fake.user_name, POOL_DRAWS * 2)
                           if name.isascii() and name.replace("_", "").isalnum()]
        self.used_usernames: set[str] = set()
        self.used_user_phones: set[str] = set()
        self.used_doctor_phones: set[str] = set()

    def reserve_existing(self, usernames: Iterable[str], user_phones: Iterable[str],
                         doctor_phones: Iterable[str]) -> None:
        """Avoid values already in the database (appending to existing data)."""
        self.used_usernames.update(name.lower() for name in usernames)
        self.used_user_phones.update(user_phones)
        self.used_doctor_phones.update(doctor_phones)

    def surname(self) -> tuple[str, str]:
        """(surname, its pinyin), by real-world frequency."""
        return self.rng.choices(SURNAMES, cum_weights=SURNAME_CUM_WEIGHTS)[0]

    def given_name(self, gender: str) -> str:
        """A given name usual for the gender."""
        return self.rng.choice(self.male_given if gender == "male" else self.female_given)

    def gender(self) -> str:
        """male or female, evenly."""
        return "male" if self.rng.random() < 0.5 else "female"

    def mobile(self, used: set[str] | None = None) -> str:
        """An 11-digit mainland mobile number, not in `used` (which it is then added to)."""
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if used is None or number not in used:
                if used is not None:
                    used.add(number)
                return number

    def user_phone(self) -> str:
        """A mobile number no other user has."""
        return self.mobile(self.used_user_phones)

    def doctor_phone(self) -> str:
        """A mobile number no other doctor has."""
        return self.mobile(self.used_doctor_phones)

    def username(self) -> str:
        """A pinyin-style username, unique regardless of case."""
        name = self.rng.choice(self.user_names)
        candidate = name if len(name) >= 3 else f"{name}{self.rng.randrange(100, 1000)}"
        while candidate.lower() in self.used_usernames:
            candidate = f"{name}{self.rng.randrange(1, 10_000)}"[:64]
        self.used_usernames.add(candidate.lower())
        return candidate
