"""The nightly consistency check's schedule: when it runs, and a config that cannot say when."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from jukinet.core.clock import JST, ManualClock, seconds_until, time_of_day_in_japan
from jukinet.core.config import NodeConfig
from jukinet.runtime.consistency_schedule import ConsistencySchedule


def test_the_next_run_is_the_next_time_of_day_in_japan() -> None:
    at = time_of_day_in_japan("02:30")
    assert seconds_until(at, dt.datetime(2026, 12, 2, 2, 0, tzinfo=JST)) == 1800
    # After it, the next is tomorrow's; at it, a full day later; JST, whatever zone `now` is in.
    assert seconds_until(at, dt.datetime(2026, 12, 2, 3, 0, tzinfo=JST)) == 23.5 * 3600
    assert seconds_until(at, dt.datetime(2026, 12, 2, 2, 30, tzinfo=JST)) == 24 * 3600
    assert seconds_until(at, dt.datetime(2026, 12, 1, 17, 0, tzinfo=dt.UTC)) == 1800


@pytest.mark.parametrize("text", ["2:30", "24:00", "02:60", "nightly", "02:30:00"])
def test_a_time_of_day_that_is_not_hh_mm_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        time_of_day_in_japan(text)


def test_a_node_config_with_a_bad_consistency_time_is_not_a_config() -> None:
    data = {
        "name": "cs-141003",
        "spiffe_id": "spiffe://juki.example/cs/141003",
        "listen": "127.0.0.1:0",
        "database_url": "sqlite://",
        "credentials": {"cert_file": "c", "key_file": "k", "trust_bundle": "b"},
        "keyring_file": "keys.json",
        "key_directory": "keys",
        "consistency_at": "25:00",
    }
    with pytest.raises(ValueError, match="consistency_at must be HH:MM"):
        NodeConfig.from_dict(data)
    assert NodeConfig.from_dict({**data, "consistency_at": ""}).consistency_at == ""


def test_the_schedule_runs_every_comparison_when_the_time_comes() -> None:
    clock = ManualClock(dt.datetime(2026, 12, 2, 2, 29, 59, 800_000, tzinfo=JST))
    ran = threading.Event()
    schedule = ConsistencySchedule(ran.set, at="02:30", clock=clock)
    schedule.start()
    try:
        assert ran.wait(5)
    finally:
        schedule.stop()
