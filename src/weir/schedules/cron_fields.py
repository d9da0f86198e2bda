"""The five fields of a cron expression, read as Vixie cron reads them.

weir parses the fields itself and hands croniter a canonical expression (plain lists of numbers)
and the right ``day_or`` flag, because croniter reads some spellings differently from Vixie cron:
it widens an equal range (``5-5``, ``Sun-Sun``) to the whole field, wraps a descending range
around (``5-1``), and combines the day fields with OR whenever neither is literally ``*``
(``*/2`` included).

The grammar, as in Vixie cron's ``entry.c``: a field is a comma-separated list of elements; an
element is ``*``, a value ``N`` or a range ``N-M`` (``N <= M``), and ``*`` or a range may take a
step ``/S`` (``S >= 1``). Months take ``jan``..``dec`` and days of the week ``sun``..``sat``
(any case) wherever a value goes; day of week ``7`` is Sunday, like ``0``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CronFields", "parse_fields"]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

# name, lowest value, highest value, value names (index + lowest = value)
_SHAPES: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _WEEKDAYS),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CronFields:
    """The values each field allows, and which fields begin with ``*`` (Vixie's ``*_STAR`` flags).

    ``weekdays`` counts Sunday as 0 (a ``7`` written in the field is stored as 0).
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    minute_star: bool
    hour_star: bool
    day_star: bool
    weekday_star: bool

    @property
    def follows_wall_clock(self) -> bool:
        """True when the minute or hour field begins with ``*``: the job follows DST skips and repeats."""
        return self.minute_star or self.hour_star

    @property
    def day_or(self) -> bool:
        """True when a day matches on day of month OR day of week: when neither begins with ``*``."""
        return not (self.day_star or self.weekday_star)

    def croniter_expr(self) -> str:
        """The same schedule as croniter reads it, to be used with ``day_or=self.day_or``.

        Every field is a plain list of numbers, or ``*`` when it allows every value. Under OR, a day
        field that allows every day makes every day match, so both day fields become ``*``.
        """
        days, weekdays = _listed(self.days, 31), _listed(self.weekdays, 7)
        if self.day_or and "*" in (days, weekdays):
            days = weekdays = "*"
        return " ".join(
            (_listed(self.minutes, 60), _listed(self.hours, 24), days, _listed(self.months, 12), weekdays)
        )


def parse_fields(expr: str) -> CronFields:
    """Read five space-separated cron fields as Vixie cron does.

    Raises:
        ValueError: the expression does not have five fields, or a field is malformed (the message
            names the field and what is wrong).
    """
    texts = expr.split()
    if len(texts) != 5:
        raise ValueError(f"has {len(texts)} fields, expected 5 (minute hour day-of-month month day-of-week)")
    sets = [_parse_field(text, *shape) for text, shape in zip(texts, _SHAPES, strict=True)]
    minutes, hours, days, months, weekdays = sets
    return CronFields(
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(0 if day == 7 else day for day in weekdays),
        minute_star=texts[0].startswith("*"),
        hour_star=texts[1].startswith("*"),
        day_star=texts[2].startswith("*"),
        weekday_star=texts[4].startswith("*"),
    )


def _parse_field(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    values: set[int] = set()
    for element in text.split(","):
        span, slash, step_text = element.partition("/")
        if span == "*":
            first, last = low, high
        elif "-" in span:
            start, _, end = span.partition("-")
            first, last = _value(start, name, low, high, names), _value(end, name, low, high, names)
            if first > last:
                raise ValueError(
                    f"{name} range {span!r} runs backwards (Vixie cron refuses it; "
                    f"list both ends instead, like '{start}-{_top(high, names)},{_bottom(low, names)}-{end}')"
                )
        else:
            first = last = _value(span, name, low, high, names)
            if slash:
                raise ValueError(
                    f"{name} step {element!r} needs a range or '*' before the '/' "
                    f"(like '{span}-{_top(high, names)}/{step_text}')"
                )
        step = 1
        if slash:
            if not _digits(step_text) or int(step_text) == 0:
                raise ValueError(f"{name} step in {element!r} must be a whole number of at least 1")
            step = int(step_text)
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _value(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if _digits(text):
        number = int(text)
        if low <= number <= high:
            return number
        raise ValueError(f"{name} value {text!r} is out of range {low}-{high}")
    if text.lower() in names:
        return names.index(text.lower()) + low
    known = f" or a name like {names[0]!r}" if names else ""
    raise ValueError(f"{name} value {text!r} is not a number{known}")


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _top(high: int, names: tuple[str, ...]) -> str:
    return names[-1] if names else str(high)


def _bottom(low: int, names: tuple[str, ...]) -> str:
    return names[0] if names else str(low)


def _listed(values: frozenset[int], size: int) -> str:
    return "*" if len(values) >= size else ",".join(str(v) for v in sorted(values))
