"""Cron and interval schedules against a brute-force reading of the rules, minute by minute.

The evaluator here is Vixie cron's own loop, written small: the five fields parsed into sets, the
day fields combined with AND when either begins with ``*`` (else OR), and the daemon stepped one
real minute at a time through a zone's wall clock. What it does at a clock change is what Vixie's
``cron.c`` does and ``docs/scheduling.md`` describes: a fixed-time job (minute and hour fields not
beginning with ``*``) runs for every wall minute the clock passed since it last looked, once, at
the first real minute after a gap, and not again while the wall clock repeats minutes it has
already shown; a wildcard job runs at every real minute whose wall time matches. Several skipped
times of one job make one fire time (weir's documented rule: a fire time is an instant, not a
count of jobs started).

Instants are whole minutes since the Unix epoch (``int``); a wall time is the same count read on
the zone's clock. Offsets come from the tz database (``zoneinfo``), never from weir.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

import weir.schedules as ws
from weir.schedules import ScheduleError

ZONES = ("UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = 1440  # minutes
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# Where random instants are drawn: uniformly in FROM..TO, or near a clock change since CHANGES_FROM
# (Kathmandu's only one in range is 1986-01-01, +05:30 -> +05:45 at local midnight).
FROM, TO, CHANGES_FROM = datetime(2000, 1, 1, tzinfo=UTC), datetime(2038, 1, 1, tzinfo=UTC), 1980
FIRES = 3  # fire times compared per example, one next_after at a time
WINDOW = 120  # fire times compared per example through between()
HORIZON = 50 * 366 * DAY  # Feb 29 on a given weekday can be 40 years away


def minutes(t: datetime) -> int:
    return int((t - EPOCH).total_seconds() // 60)


def instant(m: int) -> datetime:
    return EPOCH + timedelta(minutes=m)


# -- the evaluator ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VixieJob:
    """One crontab line's schedule: the sets each field allows and Vixie's star flags."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    wildcard: bool  # MIN_STAR or HR_STAR
    day_and: bool  # DOM_STAR or DOW_STAR

    def day_matches(self, day: int) -> bool:
        d = calendar_day(day)
        if d.month not in self.months:
            return False
        dom, dow = d.day in self.days, d.isoweekday() % 7 in self.weekdays
        return (dom and dow) if self.day_and else (dom or dow)

    def matches(self, wall: int) -> bool:
        day, rest = divmod(wall, DAY)
        hour, minute = divmod(rest, 60)
        return minute in self.minutes and hour in self.hours and self.day_matches(day)


@functools.cache
def calendar_day(day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=day)


def field_set(text: str, low: int, high: int, names: tuple[str, ...] = ()) -> frozenset[int]:
    def number(word: str) -> int:
        return names.index(word.lower()) + low if word.lower() in names else int(word)

    values: set[int] = set()
    for item in text.split(","):
        span, _, step = item.partition("/")
        if span == "*":
            first, last = low, high
        else:
            a, _, b = span.partition("-")
            first = number(a)
            last = number(b) if b else first
        values.update(range(first, last + 1, int(step or 1)))
    return frozenset(values)


def vixie_job(expr: str) -> VixieJob:
    minute, hour, dom, month, dow = expr.split()
    return VixieJob(
        minutes=field_set(minute, 0, 59),
        hours=field_set(hour, 0, 23),
        days=field_set(dom, 1, 31),
        months=field_set(month, 1, 12, MONTHS),
        weekdays=frozenset(d % 7 for d in field_set(dow, 0, 7, WEEKDAYS)),
        wildcard=minute.startswith("*") or hour.startswith("*"),
        day_and=dom.startswith("*") or dow.startswith("*"),
    )


@functools.cache
def clock_changes(tz: str) -> tuple[list[int], list[int]]:
    """``(starts, offsets)``: from instant ``starts[i]`` on, the zone's UTC offset is ``offsets[i]``.

    Sampled daily from 1975 to 2100, then each change found to the minute (no zone here changes
    its offset twice within a day). The last start is a sentinel: the end of what was sampled.
    """
    zone = ZoneInfo(tz)

    def offset(m: int) -> int:
        found = instant(m).astimezone(zone).utcoffset()
        assert found is not None and found.total_seconds() % 60 == 0
        return int(found.total_seconds() // 60)

    lo, hi = minutes(datetime(1975, 1, 1, tzinfo=UTC)), minutes(datetime(2100, 1, 1, tzinfo=UTC))
    starts, offsets = [lo], [offset(lo)]
    for day_start in range(lo + DAY, hi, DAY):
        if offset(day_start) != offsets[-1]:
            before, after = day_start - DAY, day_start  # the change is in (before, after]
            while after - before > 1:
                mid = (before + after) // 2
                before, after = (before, mid) if offset(mid) != offsets[-1] else (mid, after)
            starts.append(after)
            offsets.append(offset(after))
    starts.append(hi)
    offsets.append(offsets[-1])
    return starts, offsets


def brute_fires(
    job: VixieJob, tz: str, after: datetime, count: int, until: datetime | None = None
) -> list[datetime]:
    """The first ``count`` fire times strictly after ``after`` and before ``until`` (fewer if
    ``until`` or the horizon comes first).

    One real minute at a time. ``seen`` is the newest wall minute the daemon has looked at (Vixie's
    virtual time): a fixed job runs for each wall minute in ``(seen, wall]``; a wildcard job for
    ``wall`` alone. A wall day no minute of which can match, crossed with no clock change, is
    crossed in one step: minute by minute it would fire nothing and leave ``seen`` at its end.
    """
    starts, offsets = clock_changes(tz)
    first = minutes(after) + 1  # fire times are whole minutes; the first one strictly after `after`
    now = first - 180  # begin three hours early so `seen` is right across a repeated hour
    index = bisect.bisect_right(starts, now) - 1
    seen = now - 1 + offsets[bisect.bisect_right(starts, now - 1) - 1]
    stop = first + HORIZON
    if until is not None:  # the first whole minute at or after `until`
        stop = min(stop, minutes(until - timedelta(microseconds=1)) + 1)
    found: list[datetime] = []
    while len(found) < count and now < stop:
        while index + 1 < len(starts) and starts[index + 1] <= now:
            index += 1
        assert index + 1 < len(starts), "past the sampled clock changes"
        wall = now + offsets[index]
        day = wall // DAY
        if seen == wall - 1 and not job.day_matches(day):
            end = (day + 1) * DAY - 1  # the day's last wall minute
            if now + (end - wall) < starts[index + 1]:
                now, seen = now + (end - wall) + 1, end
                continue
        fires = job.matches(wall) if job.wildcard else any(job.matches(m) for m in range(seen + 1, wall + 1))
        seen = max(seen, wall)
        if fires and now >= first:
            found.append(instant(now))
        now += 1
    return found


# -- what hypothesis draws ---------------------------------------------------------------------------


@st.composite
def cron_field(
    draw: st.DrawFn, low: int, high: int, names: tuple[str, ...] = (), star: int = 1, near: int | None = None
) -> str:
    """A realistic field: ``*``, ``*/S``, values, ranges ``A-B`` (``A <= B``, ``5-5`` too), steps,
    names in any case, as a list of up to three elements. ``star`` weighs how often it is ``*``;
    values are drawn from ``low..near`` half of the time when ``near`` is given."""

    def spell(value: int) -> str:
        if names and value - low < len(names) and draw(st.booleans()):
            name = names[value - low]
            return draw(st.sampled_from((name, name.upper(), name.capitalize())))
        return str(value)

    if draw(st.integers(0, 3 + star)) > 3:
        return "*"
    elements = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("value", "value", "range", "range/step", "*/step", "*")))
        a = draw(st.integers(low, high) if near is None else st.integers(low, near) | st.integers(low, high))
        b = draw(st.integers(a, min(high, a + draw(st.sampled_from((0, 2, 6, high - low))))))
        step = draw(st.integers(1, max(2, (high - low) // 2)))
        elements.append(
            {
                "value": spell(a),
                "range": f"{spell(a)}-{spell(b)}",
                "range/step": f"{spell(a)}-{spell(b)}/{step}",
                "*/step": f"*/{step}",
                "*": "*",
            }[kind]
        )
    return ",".join(elements)


@st.composite
def cron_expr(draw: st.DrawFn) -> str:
    return " ".join(
        (
            draw(cron_field(0, 59, star=0)),
            draw(cron_field(0, 23, star=1, near=3)),  # clocks change between 00:00 and 03:00
            draw(cron_field(1, 31, star=3)),
            draw(cron_field(1, 12, MONTHS, star=4)),
            draw(cron_field(0, 7, WEEKDAYS, star=3)),
        )
    )


@st.composite
def zone_and_moment(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone, and an instant in it: anywhere in 2000-2037, or within two days of a clock change."""
    tz = draw(st.sampled_from(ZONES))
    starts = [s for s in clock_changes(tz)[0][1:-1] if CHANGES_FROM <= instant(s).year < TO.year]
    if draw(st.integers(0, 2)) and starts:  # two times in three, near a clock change
        before = draw(st.integers(-2 * DAY, 120) | st.integers(-180, 60))  # minutes, mostly just before
        at = instant(draw(st.sampled_from(starts))) + timedelta(minutes=before)
    else:
        at = FROM + timedelta(minutes=draw(st.integers(0, minutes(TO) - minutes(FROM))))
    return tz, at + timedelta(seconds=draw(st.sampled_from((0, 0, 1, 30, 59))))


# -- cron --------------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(expr=cron_expr(), where=zone_and_moment())
@example(expr="0 16 */2 * sat", where=("UTC", datetime(2024, 9, 1, tzinfo=UTC)))  # odd-day Saturdays
@example(expr="1 1 1-7 * */7", where=("UTC", datetime(2024, 9, 2, tzinfo=UTC)))  # first Sundays
@example(expr="0 0 13 * 5", where=("UTC", datetime(2024, 9, 1, tzinfo=UTC)))  # the 13th or Fridays
@example(expr="0 0 5-5 * Sun-Sun", where=("UTC", datetime(2024, 9, 1, tzinfo=UTC)))  # the 5th or Sundays
@example(expr="0 0 13 * sun-sat", where=("UTC", datetime(2024, 9, 1, tzinfo=UTC)))  # every day
@example(expr="30 2 * * *", where=("Europe/Paris", datetime(2024, 3, 30, 12, tzinfo=UTC)))
@example(expr="0,30 2 * * *", where=("America/New_York", datetime(2024, 3, 9, 12, tzinfo=UTC)))
@example(expr="*/15 1 * * *", where=("America/New_York", datetime(2024, 11, 3, 5, 50, tzinfo=UTC)))
@example(expr="15 1 * * *", where=("America/New_York", datetime(2024, 11, 3, 5, 20, tzinfo=UTC)))
@example(expr="15 2 * * *", where=("Australia/Lord_Howe", datetime(2024, 10, 5, 12, tzinfo=UTC)))
@example(expr="45 1 * * *", where=("Australia/Lord_Howe", datetime(2024, 4, 6, 14, 40, tzinfo=UTC)))
@example(expr="*/10 1 * * *", where=("Australia/Lord_Howe", datetime(2024, 4, 6, 14, 40, tzinfo=UTC)))
@example(expr="5 0 1 1 *", where=("Asia/Kathmandu", datetime(1985, 12, 31, 18, tzinfo=UTC)))
@example(expr="* 0 1 1 *", where=("Asia/Kathmandu", datetime(1985, 12, 31, 18, 28, tzinfo=UTC)))
@example(expr="0 0 29 2 mon", where=("UTC", datetime(2017, 1, 1, tzinfo=UTC)))  # Feb 29 or Mondays
@example(expr="0 0 29 2 */7", where=("UTC", datetime(2017, 1, 1, tzinfo=UTC)))  # Feb 29 on a Sunday
@example(expr="0 0 31 2 *", where=("UTC", datetime(2017, 1, 1, tzinfo=UTC)))  # never
def test_cron_fire_times_match_a_minute_by_minute_vixie_cron(expr: str, where: tuple[str, datetime]) -> None:
    tz, after = where
    expected = brute_fires(vixie_job(expr), tz, after, FIRES)
    try:
        schedule = ws.cron(expr, tz=tz)
    except ScheduleError as exc:
        # weir refuses only an expression that never fires, and the brute force agrees.
        assert "never exists" in str(exc), exc
        assert expected == []
        return

    got: list[datetime] = []
    t: datetime | None = after
    while len(got) < len(expected) and t is not None and (t := schedule.next_after(t)) is not None:
        got.append(t)
    assert got == expected, f"{expr!r} in {tz} after {after.isoformat()}"
    if len(expected) < FIRES:  # the horizon ended first: weir has nothing before it either
        following = schedule.next_after(got[-1] if got else after)
        assert following is None or following >= after + timedelta(minutes=HORIZON)
    # The other questions agree with the same fire times.
    for earlier, later in itertools.pairwise(expected):
        assert schedule.previous_before(later) == earlier
    # Every fire time in the day after `after` (across a clock change, when one was drawn), or
    # the first WINDOW of them for a job that fires more often.
    window = brute_fires(vixie_job(expr), tz, after, WINDOW, until=after + timedelta(days=1))
    end = window[-1] + timedelta(seconds=1) if len(window) == WINDOW else after + timedelta(days=1)
    assert schedule.between(after + timedelta(microseconds=1), end) == window


# -- interval ----------------------------------------------------------------------------------------

periods = st.one_of(
    st.integers(1, 7 * 86400).map(lambda s: timedelta(seconds=s)),
    st.sampled_from([timedelta(minutes=15), timedelta(hours=1), timedelta(days=1), timedelta(weeks=1)]),
    st.integers(1, 10**9).map(lambda us: timedelta(microseconds=us)),
)
aware = st.tuples(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1)), st.sampled_from(ZONES)
).map(lambda pair: pair[0].replace(tzinfo=ZoneInfo(pair[1])))


@settings(max_examples=300, deadline=None)
@given(period=periods, anchor=st.none() | aware, t=aware, span=st.integers(0, 50))
def test_interval_fire_times_are_the_anchor_plus_whole_periods(
    period: timedelta, anchor: datetime | None, t: datetime, span: int
) -> None:
    schedule = ws.every(period, anchor=anchor)
    origin = anchor.astimezone(UTC) if anchor is not None else EPOCH
    end = t.astimezone(UTC) + span * period  # elapsed time: `t + ...` would add wall-clock time in t's zone

    def on_grid(f: datetime) -> bool:
        return (f - origin) % period == timedelta(0)

    after, before = schedule.next_after(t), schedule.previous_before(t)
    assert after is not None and before is not None
    assert on_grid(after) and on_grid(before) and after.tzinfo is UTC and before.tzinfo is UTC
    # next_after is the first grid point strictly after t, previous_before the last strictly before.
    assert before < t < after
    assert after - before == (2 * period if on_grid(t) else period)
    assert (
        schedule.previous_before(after) == after - period and schedule.next_after(before) == before + period
    )
    assert schedule.interval_for(after) == (after - period, after)

    fires = schedule.between(t, end)
    assert all(on_grid(f) and f.tzinfo is UTC and t <= f < end for f in fires)
    assert all(b - a == period for a, b in itertools.pairwise(fires))  # strictly increasing, none missed
    assert len(fires) == span  # a window of `span` periods holds exactly `span` grid points
    if fires:
        assert fires[0] == (t if on_grid(t) else after)

    latest = schedule.latest_interval(t)
    assert latest is not None
    assert on_grid(latest[1]) and latest[1] <= t < latest[1] + period and latest[0] == latest[1] - period
