"""Resident ID numbers (居民身份证号码, GB 11643): validation, masking, keyed fingerprints.

The full number is needed only to check it and to recognise the same person again. It is
kept as an HMAC-SHA256 fingerprint under ID_NUMBER_KEY (matching needs the key: a database
dump alone does not give the numbers back, although the set of valid numbers is small
enough to search with the key) and as the masked form shown to people. Nothing here puts
the number in a message: every problem is described without it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

LENGTH = 18
# ISO 7064 MOD 11-2: the weights of the 17 digits, and the check character per remainder.
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"
SHAPE = re.compile(r"[0-9]{17}[0-9X]")
MASK = "*" * 8


def check_character(first17: str) -> str:
    """The check character of the first 17 digits."""
    return CHECK_CHARACTERS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def normalize(value: str) -> str:
    """The number as stored and compared: stripped, `x` written `X`."""
    return value.strip().upper()


def shape_problem(number: str) -> str | None:
    """What is wrong with a normalized number on its own, or None."""
    if len(number) != LENGTH or not SHAPE.fullmatch(number):
        return "must be 18 characters: 17 digits and a digit or X"
    if check_character(number[:17]) != number[17]:
        return "has a wrong check character"
    try:
        dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "holds no real birth date"
    return None


def person_problem(number: str, birthday: dt.date, gender: str) -> str | None:
    """What disagrees between a well-formed number and the patient's birthday and gender."""
    if number[6:14] != birthday.strftime("%Y%m%d"):
        return "does not match the birthday"
    if (int(number[16]) % 2 == 1) != (gender == "male"):
        return "does not match the gender"
    return None


def masked(number: str) -> str:
    """The first 6 and last 4 characters with 8 `*` between."""
    return number[:6] + MASK + number[-4:]


def fingerprint(number: str, key: str) -> bytes:
    """The keyed fingerprint the database matches persons by."""
    return hmac.new(key.encode("utf-8"), number.encode("ascii"), hashlib.sha256).digest()


def fingerprint_key(config) -> str:
    """ID_NUMBER_KEY, or a key derived from SECRET_KEY for this one purpose."""
    if config.get("ID_NUMBER_KEY"):
        return config["ID_NUMBER_KEY"]
    derived = hmac.new(config["SECRET_KEY"].encode("utf-8"), b"resident-id-number-fingerprints",
                       hashlib.sha256)
    return derived.hexdigest()


def make_number(region: str, birthday: dt.date, sequence: int) -> str:
    """A well-formed number (region: 6 digits; sequence 0..999, odd for men) — for seeding
    fictitious patients and for tests."""
    first17 = f"{region}{birthday:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)
