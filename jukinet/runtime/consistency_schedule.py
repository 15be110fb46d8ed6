"""The nightly consistency check (整合性確認): every comparison a node makes, once a day at a
set time of day in Japan (config `consistency_at`, "02:30" by default; "" turns it off)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable

from jukinet.core.clock import JST, Clock
from jukinet.core.errors import RefusedError
from jukinet.runtime.jobs import BackgroundJob

log = logging.getLogger(__name__)

_TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def time_of_day(text: str) -> dt.time:
    """ "HH:MM" as a time in Japan; ValueError otherwise."""
    found = _TIME_OF_DAY.fullmatch(text)
    if found is None:
        raise ValueError("consistency_at must be HH:MM (a time of day in Japan) or empty")
    return dt.time(int(found[1]), int(found[2]), tzinfo=JST)


def seconds_until(at: dt.time, now: dt.datetime) -> float:
    """Seconds from `now` to the next `at` (a full day if it is `at` now)."""
    local = now.astimezone(JST)
    next_run = dt.datetime.combine(local.date(), at.replace(tzinfo=None), tzinfo=JST)
    if next_run <= local:
        next_run += dt.timedelta(days=1)
    return (next_run - local).total_seconds()


class ConsistencySchedule(BackgroundJob):
    """Runs `run_all` every day at `at`; a failed run is logged and tried again the next day."""

    def __init__(self, run_all: Callable[[], object], *, at: str, clock: Clock) -> None:
        self._run_all = run_all
        self._at = time_of_day(at)
        self._clock = clock
        super().__init__("consistency-schedule")

    def run(self) -> None:
        while not self.stopped.wait(seconds_until(self._at, self._clock.now())):
            try:
                self._run_all()
            except RefusedError as refusal:
                log.warning("scheduled consistency check not finished: %s", refusal.reason)
            except Exception:  # the schedule must outlive one bad night
                log.exception("scheduled consistency check failed")
