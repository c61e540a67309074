"""Declarative input validation; the same specs generate the Swagger input models.

A spec is a dict of field name -> Field. ``validate(spec, body, partial=...)`` returns the
cleaned values of the fields present (unknown and read-only fields are dropped, never
applied) or raises ValidationFailed listing every bad field.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask_restx import fields as rf

from app.errors import ValidationFailed

MISSING = object()


@dataclass
class Field:
    """One input field: type, bounds and documentation."""

    kind: str = "string"  # string | integer | boolean | date | time | enum
    required: bool = False
    nullable: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    pattern_hint: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: Iterable[str] | None = None
    earliest: dt.date | None = None  # dates: the first one accepted (a January 1st)
    description: str = ""
    example: Any = None
    strip: bool = True
    check: Callable[[Any], str | None] | None = None
    _regex: re.Pattern | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.pattern:
            self._regex = re.compile(self.pattern)
        if self.choices is not None:
            self.choices = tuple(self.choices)
        if self.earliest is not None and (self.earliest.month, self.earliest.day) != (1, 1):
            raise ValueError("earliest must be a January 1st (its documented pattern is by year)")

    def clean(self, value: Any) -> Any:
        """Return the cleaned value or raise ValueError with the reason."""
        if value is None:
            if self.nullable:
                return None
            raise ValueError("must not be null")
        cleaner = getattr(self, f"_clean_{self.kind}")
        cleaned = cleaner(value)
        if self.check is not None:
            problem = self.check(cleaned)
            if problem:
                raise ValueError(problem)
        return cleaned

    def _clean_string(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if "\x00" in value:  # PostgreSQL text cannot hold NUL; psycopg2 would raise
            raise ValueError("must not contain NUL characters")
        if self.strip:
            value = value.strip()
        if self.min_length is not None and len(value) < self.min_length:
            if self.min_length == 1:
                raise ValueError("must not be empty")
            raise ValueError(f"must be at least {self.min_length} characters")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(f"must be at most {self.max_length} characters")
        if self._regex is not None and not self._regex.fullmatch(value):
            raise ValueError(self.pattern_hint or "has an invalid format")
        return value

    def _clean_integer(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be at most {self.maximum}")
        return value

    def _clean_boolean(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value

    def _clean_date(self, value: Any) -> dt.date:
        if not isinstance(value, str):
            raise ValueError("must be a date string YYYY-MM-DD")
        try:
            date = parse_date(value)
        except ValueError:
            raise ValueError("must be a real date in the form YYYY-MM-DD") from None
        if self.earliest is not None and date < self.earliest:
            raise ValueError(f"must be on or after {self.earliest.isoformat()}")
        return date

    def _clean_time(self, value: Any) -> dt.time:
        if not isinstance(value, str):
            raise ValueError("must be a time string HH:MM[:SS]")
        try:
            return parse_time(value)
        except ValueError:
            raise ValueError("must be a time of day HH:MM or HH:MM:SS") from None

    def _clean_enum(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise ValueError("must be one of: " + ", ".join(self.choices))
        return value

    def restx_field(self) -> rf.Raw:
        """The flask-restx field documenting this input."""
        field = self._restx_field()
        return nullable(field) if self.nullable else field

    def _restx_field(self) -> rf.Raw:
        common: dict[str, Any] = {"required": self.required, "description": self.description}
        if self.example is not None:
            common["example"] = self.example
        if self.kind == "integer":
            return rf.Integer(min=self.minimum, max=self.maximum, **common)
        if self.kind == "boolean":
            return rf.Boolean(**common)
        if self.kind == "date":
            if self.earliest is None:
                return rf.Date(**common)
            return with_schema(rf.Date(**common), pattern=date_pattern(self.earliest.year))
        if self.kind == "time":
            return rf.String(pattern=TIME_SCHEMA_PATTERN, **common)
        if self.kind == "enum":
            return rf.String(enum=list(self.choices), **common)
        return rf.String(min_length=self.min_length, max_length=self.max_length,
                         pattern=self.schema_pattern(), **common)

    def schema_pattern(self) -> str | None:
        """The documented pattern of the value as sent, i.e. before it is stripped.

        The rule applies to the stripped value, so leading and trailing whitespace is allowed
        around it; a stripped field with a minimum length must not be blank.
        """
        if not self.strip:
            return f"^(?:{self.pattern})$" if self.pattern else None
        if self.pattern:
            return f"^{SPACE}*(?:{self.pattern}){SPACE}*$"
        return NOT_BLANK if self.min_length else None


def nullable(field: rf.Raw) -> rf.Raw:
    """Document a field that may be null (Swagger 2.0 has only `x-nullable`)."""
    return with_schema(field, **{"x-nullable": True})


def with_schema(field: rf.Raw, **extra: Any) -> rf.Raw:
    """Add keywords the flask-restx field does not take to its documented schema."""
    schema = field.schema
    field.schema = lambda: {**schema(), **extra}
    return field


def date_pattern(first_year: int) -> str:
    """The documented pattern of YYYY-MM-DD dates from January 1st of `first_year` on.

    Swagger 2.0 has no minimum for dates, so the rule is stated on the text: the years from
    `first_year` to 9999, and real month and day numbers.
    """
    digits = f"{first_year:04d}"
    years = [digits]
    for position, digit in enumerate(digits):
        if digit != "9":
            rest = len(digits) - position - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            years.append(f"{digits[:position]}[{int(digit) + 1}-9]{tail}")
    return f"^(?:{'|'.join(years)})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"


DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# ASCII digits only: int() would also take other scripts' digits.
TIME_RE = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?")
# What str.strip() removes, spelled out: regex engines disagree on what \s means.
SPACE_CHARS = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
SPACE = f"[{SPACE_CHARS}]"
NOT_BLANK = f"[^{SPACE_CHARS}]"
TIME_SCHEMA_PATTERN = f"^{SPACE}*(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?{SPACE}*$"


def parse_date(value: str) -> dt.date:
    """Parse YYYY-MM-DD strictly (no week dates, no times)."""
    value = value.strip()
    if not DATE_RE.fullmatch(value):
        raise ValueError(value)
    return dt.date.fromisoformat(value)


def parse_time(value: str) -> dt.time:
    """Parse HH:MM or HH:MM:SS."""
    match = TIME_RE.fullmatch(value.strip())
    if not match:
        raise ValueError(value)
    hour, minute, second = (int(part) if part else 0 for part in match.groups())
    return dt.time(hour, minute, second)


Spec = dict[str, Field]


def validate(spec: Spec, body: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Clean the fields of `spec` found in `body`; raise ValidationFailed for any bad one."""
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name, fld in spec.items():
        value = body.get(name, MISSING)
        if value is MISSING:
            if fld.required and not partial:
                errors[name] = "is required"
            continue
        try:
            cleaned[name] = fld.clean(value)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"Invalid input: {first} {errors[first]}", errors=errors)
    return cleaned


def restx_model(api_or_ns, name: str, spec: Spec, *, partial: bool = False):
    """Register and return a Swagger model for a spec (every field optional when partial)."""
    model_fields = {}
    for field_name, fld in spec.items():
        f = fld.restx_field()
        if partial:
            f.required = False
        model_fields[field_name] = f
    return api_or_ns.model(name, model_fields)
