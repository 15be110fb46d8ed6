"""The key directory sees every published document without reading them all on every call."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from jukinet.core import clock, file_stamps
from jukinet.sealing import key_directory
from jukinet.sealing.key_directory import KeyDirectory
from jukinet.sealing.key_documents import sign_document
from jukinet.sealing.keys import rotate
from tests.helpers.sealing import World, make_world

CS = "spiffe://juki.example/cs/141003"
PREF14 = "spiffe://juki.example/prefecture/14"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path, (CS, PREF14))


def _settled() -> None:
    """Past the time a fresh change to the directory is not yet trusted to stand for it."""
    time.sleep(file_stamps.SETTLE_NS / 1e9 + 0.05)


def _looks(directory: KeyDirectory, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the directory's full looks at its documents."""
    looks: list[int] = []
    look = directory._look

    def counted() -> None:
        looks.append(1)
        look()

    monkeypatch.setattr(directory, "_look", counted)
    return looks


def _newest_key(directory: KeyDirectory) -> str:
    key = directory.encryption_key(PREF14, clock.SYSTEM.now() + dt.timedelta(seconds=2))
    assert key is not None
    return key.key_id


def test_calls_do_not_read_every_document_while_nothing_changes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = world.directory()
    looks = _looks(directory, monkeypatch)
    _settled()
    for _ in range(200):
        assert directory.encryption_key(PREF14, clock.SYSTEM.now()) is not None
    assert len(looks) == 1, "one look, then the directory's time stands for its documents"


def test_a_document_published_after_a_lookup_is_used_by_the_next(world: World) -> None:
    directory = world.directory()
    _settled()
    old = _newest_key(directory)
    rotate(world.rings[PREF14], clock.SYSTEM.now() + dt.timedelta(seconds=1))
    world.publish(PREF14)  # by rename: the directory's time moves
    assert _newest_key(directory) != old, "seen at once, without waiting for a rescan"


class _Monotonic:
    """The key directory's monotonic clock, moved by hand (the files' times, and the wall
    clock they are compared with, stay real)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_a_document_overwritten_in_place_is_seen_after_the_rescan_time(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator's copy over the file leaves the directory's time as it was: the document is
    picked up by the next full look, at most RESCAN_S later."""
    clock_ = _Monotonic()
    monkeypatch.setattr(key_directory, "time", clock_)
    directory = world.directory()
    _settled()
    old = _newest_key(directory)
    ring = world.rings[PREF14]
    rotate(ring, clock.SYSTEM.now() + dt.timedelta(seconds=1))
    newer = sign_document(ring.document(PREF14, clock.SYSTEM.now()), world.issuer)
    path = world.key_dir / f"{PREF14.replace('/', '_')}.keydoc"
    with path.open("r+b") as f:  # same file, same inode: no rename
        f.truncate()
        f.write(newer.SerializeToString())
    clock_.now += key_directory.RESCAN_S / 2
    assert _newest_key(directory) == old, "within RESCAN_S the directory's time stands"
    clock_.now += key_directory.RESCAN_S
    assert _newest_key(directory) != old


def test_a_change_within_the_settle_time_is_looked_at_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_stamps, "SETTLE_NS", 60 * 10**9)  # "just now", however slow
    directory = world.directory()
    looks = _looks(directory, monkeypatch)
    world.publish(CS)  # just now: the directory's time may not move again for the next change
    directory.encryption_key(PREF14, clock.SYSTEM.now())
    directory.encryption_key(PREF14, clock.SYSTEM.now())
    assert len(looks) == 2, "a recent change is never taken as settled"
