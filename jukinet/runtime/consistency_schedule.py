"""The nightly consistency check (整合性確認): every comparison a node makes, once a day at a
set time of day in Japan (config `consistency_at`, "02:30" by default; "" turns it off)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from jukinet.core.clock import Clock, seconds_until, time_of_day_in_japan
from jukinet.core.errors import RefusedError
from jukinet.runtime.jobs import BackgroundJob

log = logging.getLogger(__name__)


class ConsistencySchedule(BackgroundJob):
    """Runs `run_all` every day at `at`; a failed run is logged and tried again the next day."""

    def __init__(
        self,
        run_all: Callable[[], object],
        *,
        at: str,
        clock: Clock,
        leader: Callable[[], bool] | None = None,
    ) -> None:
        """`leader()`: whether this replica of the node runs tonight's checks."""
        self._run_all = run_all
        self._leader = leader
        self._at = time_of_day_in_japan(at)
        self._clock = clock
        super().__init__("consistency-schedule")

    def run(self) -> None:
        while not self.stopped.wait(seconds_until(self._at, self._clock.now())):
            if self._leader is not None and not self._leader():
                continue
            try:
                self._run_all()
            except RefusedError as refusal:
                log.warning("scheduled consistency check not finished: %s", refusal.reason)
            except Exception:  # the schedule must outlive one bad night
                log.exception("scheduled consistency check failed")
