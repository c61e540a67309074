"""Resident ID numbers (GB 11643): check character, birth date, gender parity, masking."""
from __future__ import annotations

import datetime as dt

import pytest

from app.services.id_numbers import (
    check_character,
    fingerprint,
    make_number,
    masked,
    normalize,
    person_problem,
    shape_problem,
)

# The standard's published example (GB 11643-1999, appendix): 11010519491231002X.
EXAMPLE = "11010519491231002X"


def test_the_standards_example_is_valid():
    assert check_character(EXAMPLE[:17]) == "X"
    assert shape_problem(EXAMPLE) is None
    assert person_problem(EXAMPLE, dt.date(1949, 12, 31), "female") is None


@pytest.mark.parametrize(("value", "problem"), [
    ("11010519491231002", "must be 18 characters: 17 digits and a digit or X"),
    ("11010519491231002XX", "must be 18 characters: 17 digits and a digit or X"),
    ("1101051949123100XX", "must be 18 characters: 17 digits and a digit or X"),
    ("11010519491231002Y", "must be 18 characters: 17 digits and a digit or X"),
    ("１１010519491231002X", "must be 18 characters: 17 digits and a digit or X"),
    ("110105194912310021", "has a wrong check character"),
])
def test_malformed_numbers(value, problem):
    assert shape_problem(value) == problem


def test_a_number_without_a_real_birth_date():
    first17 = "110105" + "19490230" + "002"  # February 30th, with a correct check character
    assert shape_problem(first17 + check_character(first17)) == "holds no real birth date"


def test_every_single_digit_change_is_caught():
    for position in range(17):
        for digit in "0123456789":
            if digit == EXAMPLE[position]:
                continue
            changed = EXAMPLE[:position] + digit + EXAMPLE[position + 1:]
            assert shape_problem(changed) is not None, changed


def test_birthday_and_gender_must_agree():
    number = make_number("440305", dt.date(2018, 5, 1), 123)  # odd: a man
    assert person_problem(number, dt.date(2018, 5, 1), "male") is None
    assert person_problem(number, dt.date(2018, 5, 2), "male") == "does not match the birthday"
    assert person_problem(number, dt.date(2018, 5, 1), "female") == "does not match the gender"


def test_lower_case_x_is_upper_case_x():
    assert normalize(" 11010519491231002x ") == EXAMPLE


def test_the_mask_shows_six_and_four():
    assert masked(EXAMPLE) == "110105********002X"


def test_fingerprints_need_the_key():
    assert fingerprint(EXAMPLE, "k1") == fingerprint(EXAMPLE, "k1")
    assert fingerprint(EXAMPLE, "k1") != fingerprint(EXAMPLE, "k2")
    assert EXAMPLE.encode() not in fingerprint(EXAMPLE, "k1")
