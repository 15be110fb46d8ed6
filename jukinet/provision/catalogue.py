"""The task catalogue: the legal basis every provision names, and the one check of a query.

The tasks are data (tasks.toml beside this module). `authorise` is the whole
decision whether a recipient may have items of a record for a task: the task
exists, the node serving the query provides that task's table, the
recipient is listed for the task, the search key is one the task allows and
every item asked for is one it may receive. Anything else is refused with a
stable reason; the caller logs the refusal.
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from juki.v1 import provision_service_pb2 as pb
from jukinet.core.errors import Reason, RefusedError
from jukinet.core.identity import Identity, Role
from jukinet.core.sizes import TASK_ID, check_fits

TABLES = ("1", "2", "3", "4", "5", "6", "ordinance")
RESIDENT, FUHYO = "resident", "fuhyo"  # which record a task is about
# Tables answered by a prefecture server (its own residents); 別表第1 by the national server.
PREFECTURE_TABLES = frozenset({"5", "6", "ordinance"})
# The tables whose tasks may also be in 別表第3 and so answered for other prefectures' residents
# by the national server: statutes' tasks only. 条例事務 are provided from the prefecture's own
# server alone (seed 004), whatever a catalogue says.
WIDE_AREA_TABLES = frozenset({"5", "6"})
NATIONAL_TABLES = frozenset({"1"})


class SearchKey(enum.StrEnum):
    """The search keys, named as the ResidentQuery `key` oneof names them."""

    JUMINHYO_CODE = "juminhyo_code"
    MY_NUMBER = "my_number"
    FOUR_INFORMATION = "four_information"


ITEMS: Mapping[str, pb.RecordItem.ValueType] = {
    "juminhyo_code": pb.RECORD_ITEM_JUMINHYO_CODE,
    "name": pb.RECORD_ITEM_NAME,
    "birth_date": pb.RECORD_ITEM_BIRTH_DATE,
    "sex": pb.RECORD_ITEM_SEX,
    "address": pb.RECORD_ITEM_ADDRESS,
    "my_number": pb.RECORD_ITEM_MY_NUMBER,
    "former_surname": pb.RECORD_ITEM_FORMER_SURNAME,
    "change": pb.RECORD_ITEM_CHANGE,
}
ITEM_NAMES: Mapping[int, str] = {value: name for name, value in ITEMS.items()}


class CatalogueError(ValueError):
    """The catalogue data is inconsistent (raised when it is loaded)."""


@dataclass(frozen=True)
class Task:
    """One task of the catalogue."""

    id: str
    title: str
    law: str
    table: str
    recipients: frozenset[str]
    keys: frozenset[SearchKey]
    items: frozenset[pb.RecordItem.ValueType]
    my_number_act: bool = False
    wide_area: bool = False
    record: str = RESIDENT
    # A 4-information search finds 消除者 too (a death or move-out is what 生存確認 asks),
    # each answered with its removal reason and date and marked removed (RECORD_ITEM_CHANGE).
    removed_persons: bool = False

    @property
    def recipient_role(self) -> Role:
        """National agencies use 別表第1 tasks; organs of a prefecture the others."""
        return Role.AGENCY if self.table == "1" else Role.ORGAN

    def admits(self, recipient: Identity) -> bool:
        """True if `recipient` is one of this task's recipients."""
        return recipient.role is self.recipient_role and recipient.name in self.recipients


def _task(entry: dict[str, object]) -> Task:
    try:
        task = Task(
            id=str(entry["id"]),
            title=str(entry["title"]),
            law=str(entry["law"]),
            table=str(entry["table"]),
            recipients=frozenset(map(str, entry["recipients"])),  # type: ignore[call-overload]
            keys=frozenset(SearchKey(k) for k in entry["keys"]),  # type: ignore[attr-defined]
            items=frozenset(ITEMS[i] for i in entry["items"]),  # type: ignore[attr-defined]
            my_number_act=bool(entry.get("my_number_act", False)),
            wide_area=bool(entry.get("wide_area", False)),
            record=str(entry.get("record", RESIDENT)),
            removed_persons=bool(entry.get("removed_persons", False)),
        )
    except (KeyError, ValueError) as error:
        raise CatalogueError(f"task {entry.get('id')!r}: {error}") from None
    if task.table not in TABLES:
        raise CatalogueError(f"task {task.id}: unknown table {task.table!r}")
    if task.record not in (RESIDENT, FUHYO):
        raise CatalogueError(f"task {task.id}: unknown record {task.record!r}")
    uses_my_number = pb.RECORD_ITEM_MY_NUMBER in task.items or SearchKey.MY_NUMBER in task.keys
    if uses_my_number and not task.my_number_act:
        raise CatalogueError(f"task {task.id}: My Number only for My Number Act tasks")
    if task.removed_persons and (
        task.record != RESIDENT or pb.RECORD_ITEM_CHANGE not in task.items
    ):
        raise CatalogueError(f"task {task.id}: removed persons are given with the change item")
    if task.wide_area and task.table not in WIDE_AREA_TABLES:
        raise CatalogueError(f"task {task.id}: only tasks of 別表第5 and 第6 are wide-area")
    return task


@dataclass(frozen=True)
class Catalogue:
    """Every task, by id."""

    tasks: Mapping[str, Task]

    @classmethod
    def parse(cls, text: str) -> Catalogue:
        """Read and check catalogue TOML."""
        tasks: dict[str, Task] = {}
        for entry in tomllib.loads(text).get("task", []):
            task = _task(entry)
            if task.id in tasks:
                raise CatalogueError(f"task {task.id}: defined twice")
            tasks[task.id] = task
        return cls(tasks)

    def task_for(
        self,
        task_id: str,
        *,
        recipient: Identity,
        tables: Iterable[str],
        wide_area_only: bool,
        record: str = RESIDENT,
    ) -> Task:
        """The task if `recipient` may use it at a node providing `tables`; else RefusedError.

        `tables`: the tables the answering node provides (a prefecture server:
        5, 6 and its ordinance; the national server: 1 for agencies, and the
        wide-area tasks (`wide_area_only`) for a prefecture's forwarded query).
        """
        check_fits("task_id", task_id, TASK_ID)
        task = self.tasks.get(task_id)
        if task is None:
            raise RefusedError(Reason.TASK_UNKNOWN)
        in_scope = (
            task.record == record
            and task.table in set(tables)
            and (task.wide_area or not wide_area_only)
        )
        if not in_scope or not task.admits(recipient):
            raise RefusedError(Reason.TASK_NOT_FOR_CALLER)
        return task

    def authorise(
        self,
        query: pb.ResidentQuery,
        *,
        recipient: Identity,
        tables: Iterable[str],
        wide_area_only: bool = False,
        record: str = RESIDENT,
    ) -> tuple[Task, frozenset[pb.RecordItem.ValueType]]:
        """The task and the items to give, if `recipient` may have them; else RefusedError.

        The whole check of a query: the task (`task_for`), the search key and
        every item asked for.
        """
        task = self.task_for(
            query.task_id,
            recipient=recipient,
            tables=tables,
            wide_area_only=wide_area_only,
            record=record,
        )
        key = query.WhichOneof("key")
        if key is None:
            raise RefusedError(Reason.KEY_MISSING)
        if SearchKey(key) not in task.keys:
            raise RefusedError(Reason.KEY_NOT_ALLOWED_FOR_TASK)
        wanted = frozenset(query.items) or task.items
        if not wanted <= task.items:
            raise RefusedError(Reason.ITEM_NOT_ALLOWED_FOR_TASK)
        return task, wanted


def description(task: Task) -> pb.TaskDescription:
    """A task as ProvisionService.ListTasks gives it (sorted, so the answer is stable)."""
    return pb.TaskDescription(
        task_id=task.id,
        title=task.title,
        law=task.law,
        table=task.table,
        recipients=sorted(task.recipients),
        keys=sorted(task.keys),
        items=sorted(task.items),
        my_number_act=task.my_number_act,
        wide_area=task.wide_area,
        record=task.record,
        removed_persons=task.removed_persons,
    )


@cache
def default_catalogue() -> Catalogue:
    """The catalogue shipped with juki-net (tasks.toml)."""
    return Catalogue.parse(
        resources.files("jukinet.provision").joinpath("tasks.toml").read_text("utf-8")
    )
