"""The access-right ledger: which operator may do what on this node, under a two-person rule.

Seed 003: operators' access rights are issued and revoked with approval and
kept in a ledger. An administrator (one of the node's configured
`administrators`) grants an operator rights for a number of days; the grant
is in effect only once a *different* administrator approves it. Any
administrator revokes a grant, in effect at once; a grant past its expiry is
out of effect at once too. The interceptor (authz.py) asks `allows` on every
operator call; deny by default. Every grant, approval and revocation is also
an entry of the audit log, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, and_, insert, or_, select, update

from juki.v1 import access_service_pb2 as access_pb
from jukinet.core.clock import SYSTEM, Clock
from jukinet.core.errors import Reason, RefusedError, invalid_field
from jukinet.core.identity import Identity, IdentityError, Role
from jukinet.storage import Database, as_utc
from jukinet.storage.schema import access_grants
from jukinet.trust.audit import AuditLog

MAX_DAYS = 366


class Right(enum.StrEnum):
    """What an operator may do on a node (authz.RIGHTS maps each operator method to one)."""

    STATUS = "status"
    DISCLOSE = "disclose"
    STATISTICS = "statistics"
    APPROVE_BULK = "approve-bulk"
    CONSISTENCY = "consistency"
    LOGS = "logs"


# The wire form of each right (AccessAdminService), for the servicer and the client alike.
WIRE_RIGHTS: dict[Right, access_pb.AccessRight.ValueType] = {
    Right.STATUS: access_pb.ACCESS_RIGHT_STATUS,
    Right.DISCLOSE: access_pb.ACCESS_RIGHT_DISCLOSE,
    Right.STATISTICS: access_pb.ACCESS_RIGHT_STATISTICS,
    Right.APPROVE_BULK: access_pb.ACCESS_RIGHT_APPROVE_BULK,
    Right.CONSISTENCY: access_pb.ACCESS_RIGHT_CONSISTENCY,
    Right.LOGS: access_pb.ACCESS_RIGHT_LOGS,
}


class State(enum.Enum):
    """Where a grant stands."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


WIRE_STATES: dict[State, access_pb.AccessGrantState.ValueType] = {
    State.PENDING: access_pb.ACCESS_GRANT_STATE_PENDING,
    State.ACTIVE: access_pb.ACCESS_GRANT_STATE_ACTIVE,
    State.EXPIRED: access_pb.ACCESS_GRANT_STATE_EXPIRED,
    State.REVOKED: access_pb.ACCESS_GRANT_STATE_REVOKED,
}


@dataclass(frozen=True)
class Grant:
    """One row of the ledger."""

    grant_id: str
    operator: str
    rights: tuple[Right, ...]
    granted_by: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    revoked_by: str | None
    revoked_at: dt.datetime | None

    def state(self, now: dt.datetime) -> State:
        """Its state at `now`."""
        if self.revoked_at is not None:
            return State.REVOKED
        if now >= self.expires_at:
            return State.EXPIRED
        return State.PENDING if self.approved_at is None else State.ACTIVE


def _grant(row: object) -> Grant:
    def at(value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else as_utc(value)

    r = row._mapping  # type: ignore[attr-defined]
    return Grant(
        grant_id=r["grant_id"],
        operator=r["operator"],
        rights=tuple(Right(name) for name in r["rights"].split(",")),
        granted_by=r["granted_by"],
        granted_at=as_utc(r["granted_at"]),
        expires_at=as_utc(r["expires_at"]),
        approved_by=r["approved_by"],
        approved_at=at(r["approved_at"]),
        revoked_by=r["revoked_by"],
        revoked_at=at(r["revoked_at"]),
    )


@dataclass(frozen=True)
class AccessLedger:
    """The ledger of one node, with the administrators its config names."""

    db: Database
    audit: AuditLog
    administrators: frozenset[str]
    clock: Clock = SYSTEM

    def check_administrator(self, caller: Identity) -> None:
        """NOT_AN_ADMINISTRATOR unless `caller` is one of this node's administrators."""
        if caller.spiffe_id not in self.administrators:
            raise RefusedError(Reason.NOT_AN_ADMINISTRATOR)

    def grant(self, by: Identity, operator: str, rights: Iterable[Right], days: int) -> Grant:
        """A new grant, pending until another administrator approves it."""
        self.check_administrator(by)
        try:
            if Identity.parse(operator).role is not Role.OPERATOR:
                raise invalid_field("operator", "must be an operator's SPIFFE ID")
        except IdentityError:
            raise invalid_field("operator", "must be an operator's SPIFFE ID") from None
        chosen = sorted(set(rights))
        if not chosen:
            raise invalid_field("rights", "name at least one right")
        if not 1 <= days <= MAX_DAYS:
            raise invalid_field("days", f"must be 1..{MAX_DAYS}")
        now = self.clock.now()
        grant_id = str(uuid.uuid4())
        with self.db.transaction() as conn:
            conn.execute(
                insert(access_grants).values(
                    grant_id=grant_id,
                    operator=operator,
                    rights=",".join(chosen),
                    granted_by=by.spiffe_id,
                    granted_at=now,
                    expires_at=now + dt.timedelta(days=days),
                )
            )
            self._audit(conn, by, "access.grant", grant_id)
            return self._get(conn, grant_id)

    def approve(self, by: Identity, grant_id: str) -> Grant:
        """Put a pending grant in effect: only an administrator who is neither its granter nor
        its grantee (two persons besides the one who gains the rights)."""
        self.check_administrator(by)
        now = self.clock.now()
        with self.db.transaction() as conn:
            found = self._get(conn, grant_id)
            if found.granted_by == by.spiffe_id:
                raise RefusedError(Reason.SAME_ADMINISTRATOR)
            if found.operator == by.spiffe_id:
                raise RefusedError(Reason.GRANTEE_APPROVES)
            if found.state(now) is not State.PENDING:
                raise RefusedError(Reason.GRANT_NOT_PENDING)
            conn.execute(
                update(access_grants)
                .where(access_grants.c.grant_id == grant_id)
                .values(approved_by=by.spiffe_id, approved_at=now)
            )
            self._audit(conn, by, "access.approve", grant_id)
            return self._get(conn, grant_id)

    def revoke(self, by: Identity, grant_id: str) -> Grant:
        """Take a grant out of effect at once (any administrator)."""
        self.check_administrator(by)
        with self.db.transaction() as conn:
            found = self._get(conn, grant_id)
            if found.revoked_at is None:
                conn.execute(
                    update(access_grants)
                    .where(access_grants.c.grant_id == grant_id)
                    .values(revoked_by=by.spiffe_id, revoked_at=self.clock.now())
                )
            self._audit(conn, by, "access.revoke", grant_id)
            return self._get(conn, grant_id)

    def grants(
        self, by: Identity, *, limit: int, after: tuple[dt.datetime, str] | None = None
    ) -> tuple[list[Grant], bool]:
        """Up to `limit` grants, newest first, from after the grant (granted_at, grant_id)
        `after`; and whether more follow (administrators only)."""
        self.check_administrator(by)
        g = access_grants.c
        query = select(access_grants)
        if after is not None:
            at, grant_id = after
            query = query.where(
                or_(g.granted_at < at, and_(g.granted_at == at, g.grant_id < grant_id))
            )
        query = query.order_by(g.granted_at.desc(), g.grant_id.desc()).limit(limit + 1)
        with self.db.reading() as conn:
            found = [_grant(row) for row in conn.execute(query)]
        return found[:limit], len(found) > limit

    def allows(self, operator: str, right: Right) -> bool:
        """True if an approved, unexpired, unrevoked grant gives `operator` `right` now."""
        now = self.clock.now()
        with self.db.reading() as conn:
            rows = conn.execute(
                select(access_grants).where(
                    access_grants.c.operator == operator,
                    access_grants.c.approved_at.is_not(None),
                    access_grants.c.revoked_at.is_(None),
                )
            )
            return any(
                right in g.rights and g.state(now) is State.ACTIVE for g in map(_grant, rows)
            )

    def _get(self, conn: Connection, grant_id: str) -> Grant:
        row = conn.execute(
            select(access_grants).where(access_grants.c.grant_id == grant_id)
        ).first()
        if row is None:
            raise RefusedError(Reason.UNKNOWN_GRANT)
        return _grant(row)

    def _audit(self, conn: Connection, by: Identity, action: str, grant_id: str) -> None:
        self.audit.append_in(conn, actor=by.spiffe_id, action=f"{action}:{grant_id}", outcome="ok")
