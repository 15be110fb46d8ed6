"""Node processes of the local network: started, watched until healthy, restarted if they exit.

Each node is its own process (`python -m jukinet.cli serve --config …`).
A process that exits without being asked to stop is restarted after a
backoff that doubles while it keeps failing (MIN_BACKOFF_S … MAX_BACKOFF_S)
and resets once it has stayed up for STABLE_S; every exit and restart is
logged and counted (`restarts`), so `juki-net up` keeps its network running
as systemd or Kubernetes would a real node (deploy/systemd/).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
WATCH_INTERVAL_S = 0.5
MIN_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
STABLE_S = 60.0


@dataclass(frozen=True)
class _Launch:
    """How a node process is started: its config, its log, and what it runs under."""

    config: Path
    log_file: Path
    prefix: tuple[str, ...]
    env: tuple[tuple[str, str], ...]


@dataclass
class _Child:
    """One supervised node process."""

    launch: _Launch
    process: subprocess.Popen[bytes]
    started: float
    restarts: int = 0
    backoff_s: float = MIN_BACKOFF_S
    restart_at: float | None = None  # when an exited process is to be started again
    lock: threading.Lock = field(default_factory=threading.Lock)


def _spawn(launch: _Launch) -> subprocess.Popen[bytes]:
    env = {**os.environ, **dict(launch.env)}
    env.setdefault("PYTHONUNBUFFERED", "1")
    command = ["serve", "--config", str(launch.config)]
    with launch.log_file.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*launch.prefix, sys.executable, "-m", "jukinet.cli", *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


class Supervisor:
    """Starts, watches and stops node processes by name."""

    def __init__(self, *, restart: bool = True) -> None:
        self._restart = restart
        self._children: dict[str, _Child] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(
        self,
        name: str,
        config: Path,
        log_file: Path,
        prefix: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        """Start `name`'s process and supervise it; `prefix` runs it elsewhere (e.g. in a
        network namespace: ``ip netns exec NS``; it must exec the node, not fork it), `env`
        adds to its environment."""
        launch = _Launch(config, log_file, prefix, tuple(sorted((env or {}).items())))
        child = _Child(launch, _spawn(launch), time.monotonic())
        with self._lock:
            self._children[name] = child
            if self._restart and self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
                self._watcher.start()

    def pid(self, name: str) -> int | None:
        """The process id of `name`'s current process (None if it is not supervised)."""
        child = self._children.get(name)
        return child.process.pid if child else None

    def restarts(self, name: str) -> int:
        """How often `name` was restarted after exiting on its own."""
        child = self._children.get(name)
        return child.restarts if child else 0

    def wait_healthy(self, name: str, channel: grpc.Channel, timeout: float) -> None:
        """Block until `name` answers SERVING on `channel`; raise if it cannot be started."""
        child = self._children[name]
        deadline = time.monotonic() + timeout
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if not self._restart and child.process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {child.process.returncode}; see {child.launch.log_file}"
                )
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not become healthy; see {child.launch.log_file}")
            time.sleep(0.1)

    def stop(self, name: str, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop `name` gracefully (SIGTERM, then SIGKILL after `timeout`); no restart."""
        self.stop_all([name], timeout)

    def stop_all(self, names: list[str], timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop `names` gracefully, all at once: each is sent SIGTERM in the order given, then
        waited for (SIGKILL after `timeout`), so their shutdowns overlap instead of queueing."""
        with self._lock:
            children = [c for c in (self._children.pop(n, None) for n in names) if c]
        stopping = []
        for child in children:
            child.lock.acquire()
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
            stopping.append(child)
        for child in stopping:
            try:
                child.process.wait(timeout)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            finally:
                child.lock.release()

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL_S):
            with self._lock:
                children = list(self._children.items())
            for name, child in children:
                self._check(name, child)

    def _check(self, name: str, child: _Child) -> None:
        """Restart `child` if it exited on its own and its backoff has passed."""
        with child.lock:
            if name not in self._children or child.process.poll() is None:
                return
            now = time.monotonic()
            if child.restart_at is None:
                if now - child.started >= STABLE_S:
                    child.backoff_s = MIN_BACKOFF_S
                child.restart_at = now + child.backoff_s
                log.warning(
                    "%s exited with %s; restarting in %.1f s (see %s)",
                    name,
                    child.process.returncode,
                    child.backoff_s,
                    child.launch.log_file,
                )
                return
            if now < child.restart_at:
                return
            child.process = _spawn(child.launch)
            child.started, child.restart_at = now, None
            child.restarts += 1
            child.backoff_s = min(MAX_BACKOFF_S, child.backoff_s * 2)
            log.warning("%s restarted (restart %d)", name, child.restarts)
