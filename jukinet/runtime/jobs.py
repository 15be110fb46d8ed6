"""A node's background job: one loop in a daemon thread of its own, until the node stops."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

STOP_TIMEOUT_S = 5.0
log = logging.getLogger(__name__)


class BackgroundJob(ABC):
    """Runs `run` in its own thread from `start` until `stop`; `run` waits on `stopped`."""

    def __init__(self, name: str) -> None:
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)

    def start(self) -> None:
        """Start the loop."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end and wait for it a little."""
        self.stopped.set()
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT_S)

    @abstractmethod
    def run(self) -> None:
        """The loop: do the work, then `self.stopped.wait(interval)`, until it is set."""


class Periodic(BackgroundJob):
    """Calls `work` every `interval_s` seconds; a failure is logged and tried again next time.

    `leader()`: whether this process does the work this time (of a node's replicas, the one
    holding the job's lock; storage/leadership.py)."""

    def __init__(
        self,
        name: str,
        work: Callable[[], object],
        interval_s: float,
        leader: Callable[[], bool] | None = None,
    ) -> None:
        self._work = work
        self._interval_s = interval_s
        self._leader = leader
        super().__init__(name)

    def run(self) -> None:
        while not self.stopped.wait(self._interval_s):
            if self._leader is not None and not self._leader():
                continue
            try:
                self._work()
            except Exception:  # the schedule must outlive one bad round
                log.exception("%s failed", self._thread.name)
