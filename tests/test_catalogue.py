"""The task catalogue: the shipped data is consistent, and the one check refuses what it must."""

from __future__ import annotations

import pytest

from juki.v1 import provision_service_pb2 as pb
from jukinet.core.errors import RefusedError
from jukinet.core.identity import Identity, Role
from jukinet.provision.catalogue import (
    ITEMS,
    NATIONAL_TABLES,
    PREFECTURE_TABLES,
    Catalogue,
    CatalogueError,
    default_catalogue,
)

PASSPORT = Identity.of(Role.ORGAN, "14", "passport-centre")


def test_shipped_catalogue_is_consistent() -> None:
    tasks = default_catalogue().tasks
    assert len(tasks) >= 10
    tables = {t.table for t in tasks.values()}
    assert {"1", "5", "6", "ordinance"} <= tables
    for task in tasks.values():
        if pb.RECORD_ITEM_MY_NUMBER in task.items:
            assert task.my_number_act, task.id
        assert task.items and task.keys and task.recipients


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '[[task]]\nid="a"\ntitle="t"\nlaw="l"\ntable="5"\nrecipients=["x"]\nkeys=["my_number"]\n'
            'items=["name"]\n',
            "My Number only",
        ),
        (
            '[[task]]\nid="a"\ntitle="t"\nlaw="l"\ntable="9"\nrecipients=["x"]\nkeys=["juminhyo_code"]\n'
            'items=["name"]\n',
            "unknown table",
        ),
        (
            '[[task]]\nid="a"\ntitle="t"\nlaw="l"\ntable="5"\nrecipients=["x"]\nkeys=["phone"]\n'
            'items=["name"]\n',
            "'a'",
        ),
        (
            '[[task]]\nid="a"\ntitle="t"\nlaw="l"\ntable="1"\nrecipients=["x"]\nkeys=["juminhyo_code"]\n'
            'items=["name"]\nwide_area=true\n',
            "wide-area",
        ),
        (  # a removed person is answered only with the change item that says so
            '[[task]]\nid="a"\ntitle="t"\nlaw="l"\ntable="1"\nrecipients=["x"]\n'
            'keys=["four_information"]\nitems=["name"]\nremoved_persons=true\n',
            "removed persons",
        ),
        (  # 条例事務 only from the prefecture's own server (seed 004): never through national
            '[[task]]\nid="a"\ntitle="t"\nlaw="l"\ntable="ordinance"\nrecipients=["x"]\n'
            'keys=["juminhyo_code"]\nitems=["name"]\nwide_area=true\n',
            "wide-area",
        ),
    ],
)
def test_inconsistent_catalogue_is_rejected(text: str, problem: str) -> None:
    with pytest.raises(CatalogueError, match=problem):
        Catalogue.parse(text)


def _query(task: str, **kwargs: object) -> pb.ResidentQuery:
    return pb.ResidentQuery(task_id=task, juminhyo_code="12345678906", **kwargs)  # type: ignore[arg-type]


def test_authorise_gives_the_tasks_items_or_those_asked() -> None:
    catalogue = default_catalogue()
    task, items = catalogue.authorise(
        _query("pref5-passport"), recipient=PASSPORT, tables=PREFECTURE_TABLES
    )
    assert items == task.items and pb.RECORD_ITEM_MY_NUMBER not in items
    _, items = catalogue.authorise(
        _query("pref5-passport", items=[ITEMS["name"]]),
        recipient=PASSPORT,
        tables=PREFECTURE_TABLES,
    )
    assert items == {pb.RECORD_ITEM_NAME}


@pytest.mark.parametrize(
    ("task", "recipient", "tables", "wide", "reason"),
    [
        ("pref5-passport", PASSPORT, NATIONAL_TABLES, False, "TASK_NOT_FOR_CALLER"),
        (
            "pref5-disability-certificate",
            Identity.of(Role.ORGAN, "14", "welfare-office"),
            PREFECTURE_TABLES,
            True,
            "TASK_NOT_FOR_CALLER",
        ),
        (
            "nat1-pension",
            Identity.of(Role.ORGAN, "14", "pension-service"),
            NATIONAL_TABLES,
            False,
            "TASK_NOT_FOR_CALLER",
        ),
        ("missing", PASSPORT, PREFECTURE_TABLES, False, "TASK_UNKNOWN"),
    ],
)
def test_authorise_refusals(
    task: str, recipient: Identity, tables: frozenset[str], wide: bool, reason: str
) -> None:
    with pytest.raises(RefusedError) as caught:
        default_catalogue().authorise(
            _query(task), recipient=recipient, tables=tables, wide_area_only=wide
        )
    assert caught.value.reason == reason
