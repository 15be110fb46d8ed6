"""A node's background job: one loop in a daemon thread of its own, until the node stops."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

STOP_TIMEOUT_S = 5.0


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
