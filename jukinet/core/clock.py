"""The one clock: every "now" of juki-net is read here, so tests can set the time.

Collaborators that need the time take a `Clock` (default `SYSTEM`, the real
one); a test passes a `ManualClock` and moves it. Deadlines of waiting loops
use `time.monotonic` directly: they measure durations, not dates.

The register lives in Japan's calendar: dates of changes and the fiscal year
(年度, April to March) are taken in JST, which has no daylight saving time.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Protocol

JST = dt.timezone(dt.timedelta(hours=9), "JST")


class Clock(Protocol):
    """Where a collaborator reads the current time from."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        return dt.datetime.now(dt.UTC)


SYSTEM: Clock = SystemClock()


class ManualClock:
    """A clock that stands still until moved (for tests and simulated time)."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        self._now = start.astimezone(dt.UTC)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        """The time it was set to."""
        with self._lock:
            return self._now

    def advance(self, delta: dt.timedelta) -> None:
        """Move the clock forward."""
        with self._lock:
            self._now += delta


def today_in_japan(clock: Clock = SYSTEM) -> dt.date:
    """The register's calendar date."""
    return clock.now().astimezone(JST).date()


def fiscal_year(at: dt.datetime) -> int:
    """The Japanese fiscal year (年度, April to March) `at` falls in."""
    local = at.astimezone(JST)
    return local.year if local.month >= 4 else local.year - 1


_TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def time_of_day_in_japan(text: str) -> dt.time:
    """ "HH:MM" as a time of day in Japan; ValueError otherwise."""
    found = _TIME_OF_DAY.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    return dt.time(int(found[1]), int(found[2]), tzinfo=JST)


def seconds_until(at: dt.time, now: dt.datetime) -> float:
    """Seconds from `now` to the next time of day `at` in Japan (a full day if it is `at` now)."""
    local = now.astimezone(JST)
    next_time = dt.datetime.combine(local.date(), at.replace(tzinfo=None), tzinfo=JST)
    if next_time <= local:
        next_time += dt.timedelta(days=1)
    return (next_time - local).total_seconds()
