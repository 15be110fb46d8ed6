"""Who may call what: one declarative policy table and the interceptor that enforces it.

Deny by default: a method that is not in `POLICY` is refused for everyone.
Each entry lists the identities admitted, by role and by how the caller must
relate to this node (same municipality, same prefecture, or anywhere in the
network). Identity comes only from the verified TLS peer's SPIFFE ID; a caller
without one is UNAUTHENTICATED.

Before the policy, the peer's certificate is checked against the network's
revocation list (revocation.py). After it, an operator's call must also be
allowed by the node's access-right ledger (access.py): `RIGHTS` says which
right each operator method needs. Every refusal, and every operator action, is
appended to the node's audit log.
"""

from __future__ import annotations

import contextvars
import enum
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from jukinet.core import methods as m
from jukinet.core import metrics
from jukinet.core.errors import Reason, RefusedError, abort, status_code_of
from jukinet.core.identity import (
    Identity,
    Role,
    peer_certificate_pem,
    peer_identity,
    peer_spiffe_ids,
)
from jukinet.core.sizes import SPIFFE_ID, kept
from jukinet.trust.access import AccessLedger, Right
from jukinet.trust.audit import AuditLog
from jukinet.trust.revocation import RevocationList

log = logging.getLogger(__name__)


class Scope(enum.Enum):
    """How a caller must relate to the node it calls."""

    SAME_MUNICIPALITY = "same municipality"
    SAME_PREFECTURE = "same prefecture"
    NETWORK = "anywhere in the network"
    AT_NATIONAL = "only at the national server"
    AT_ITS_SERVERS = "only at its prefecture's prefecture and fuhyo servers"


@dataclass(frozen=True)
class Allow:
    """Admit callers of `role` (any role if None) within `scope`."""

    role: Role | None
    scope: Scope = Scope.NETWORK

    def admits(self, caller: Identity, node: Identity) -> bool:
        """True if `caller` may call a method guarded by this rule on `node`."""
        if self.role is not None and caller.role is not self.role:
            return False
        if self.scope is Scope.SAME_MUNICIPALITY:
            return caller.code == node.code
        if self.scope is Scope.SAME_PREFECTURE:
            return caller.prefecture == node.prefecture
        if self.scope is Scope.AT_NATIONAL:
            return node.role is Role.NATIONAL
        if self.scope is Scope.AT_ITS_SERVERS:
            return caller.prefecture == node.prefecture and node.role in _SERVERS
        return True


ANY_NETWORK_IDENTITY = Allow(role=None)
_SERVERS = frozenset({Role.PREFECTURE, Role.FUHYO})

# Who operates a node's logs: its prefecture's operators (the national server's: any).
_LOG_OPERATORS = (
    Allow(Role.OPERATOR, Scope.SAME_PREFECTURE),
    Allow(Role.OPERATOR, Scope.AT_NATIONAL),
)
# fmt: off
POLICY: Mapping[str, tuple[Allow, ...]] = {
    # Only the municipality's own register system enters changes at its CS.
    m.SUBMIT_CHANGE: (Allow(Role.REGISTER, Scope.SAME_MUNICIPALITY),),
    m.SUBMIT_CHANGES: (Allow(Role.REGISTER, Scope.SAME_MUNICIPALITY),),
    m.SUBMIT_FUHYO_CHANGE: (Allow(Role.REGISTER, Scope.SAME_MUNICIPALITY),),
    # The register system follows its changes; the prefecture's operators too.
    m.GET_CHANGE_STATUS: (
        Allow(Role.REGISTER, Scope.SAME_MUNICIPALITY),
        Allow(Role.OPERATOR, Scope.SAME_PREFECTURE),
    ),
    # 誤りの通報: the register system takes its municipality's notices at its CS, a CS its own at
    # its prefecture and fuhyo servers (the servicer shows a caller its municipality's only).
    m.LIST_CHANGE_NOTICES: (
        Allow(Role.REGISTER, Scope.SAME_MUNICIPALITY),
        Allow(Role.CS, Scope.AT_ITS_SERVERS),
    ),
    m.ACKNOWLEDGE_CHANGE_NOTICES: (
        Allow(Role.REGISTER, Scope.SAME_MUNICIPALITY),
        Allow(Role.CS, Scope.AT_ITS_SERVERS),
    ),
    # Only a CS of prefecture P delivers to P's prefecture server and P's fuhyo server.
    m.DELIVER_MUNICIPAL_CHANGES: (Allow(Role.CS, Scope.SAME_PREFECTURE),),
    m.DELIVER_MUNICIPAL_FUHYO_CHANGES: (Allow(Role.CS, Scope.SAME_PREFECTURE),),
    # Only prefecture servers deliver to the national server, fuhyo servers to its fuhyo side.
    m.DELIVER_PREFECTURE_CHANGES: (Allow(Role.PREFECTURE),),
    m.DELIVER_PREFECTURE_FUHYO_CHANGES: (Allow(Role.FUHYO),),
    # Provision: a prefecture's own organs at its prefecture server, national agencies at the
    # national server; the task catalogue (provision/catalogue.py) then decides per task.
    m.QUERY_RESIDENTS: (
        Allow(Role.ORGAN, Scope.SAME_PREFECTURE),
        Allow(Role.AGENCY, Scope.AT_NATIONAL),
    ),
    m.BULK_QUERY_RESIDENTS: (
        Allow(Role.ORGAN, Scope.SAME_PREFECTURE),
        Allow(Role.AGENCY, Scope.AT_NATIONAL),
    ),
    # The catalogue itself holds no personal data: any identity of the network reads it.
    m.LIST_TASKS: (ANY_NETWORK_IDENTITY,),
    # Fuhyo provision to the prefecture's own organs; the catalogue then decides per task.
    m.QUERY_FUHYO_RECORDS: (Allow(Role.ORGAN, Scope.SAME_PREFECTURE),),
    m.BULK_QUERY_FUHYO_RECORDS: (Allow(Role.ORGAN, Scope.SAME_PREFECTURE),),
    m.CONFIRM_MY_NUMBER_DELIVERY: (Allow(Role.ORGAN, Scope.SAME_PREFECTURE),),
    # A prefecture (fuhyo) server asks about another prefecture's person for one of its organs.
    m.QUERY_FOR_PREFECTURE: (Allow(Role.PREFECTURE),),
    m.QUERY_FUHYO_FOR_PREFECTURE: (Allow(Role.FUHYO),),
    # The narrow link (provision/link.py): the one caller is this prefecture's fuhyo server.
    m.GET_MY_NUMBER_FOR_EMIGRANT: (Allow(Role.FUHYO, Scope.SAME_PREFECTURE),),
    # Disclosure, statistics, bulk approvals: the prefecture's own operators at its prefecture
    # and fuhyo servers; at the national server, its operators (any prefecture's identity, as
    # no national operator identity exists yet; the access-right ledger then decides who).
    m.DISCLOSE_RECORD: (
        Allow(Role.OPERATOR, Scope.SAME_PREFECTURE),
        Allow(Role.OPERATOR, Scope.AT_NATIONAL),
    ),
    m.GET_PROVISION_STATISTICS: (
        Allow(Role.OPERATOR, Scope.SAME_PREFECTURE),
        Allow(Role.OPERATOR, Scope.AT_NATIONAL),
    ),
    m.APPROVE_BULK_PROVISION: (
        Allow(Role.OPERATOR, Scope.SAME_PREFECTURE),
        Allow(Role.OPERATOR, Scope.AT_NATIONAL),
    ),
    # 整合性確認: a CS compares with its prefecture (fuhyo) server, those with national; the
    # answering servicer then admits only the caller's own municipalities and file.
    m.DIGEST_RANGES: (
        Allow(Role.CS, Scope.SAME_PREFECTURE),
        Allow(Role.PREFECTURE, Scope.AT_NATIONAL),
        Allow(Role.FUHYO, Scope.AT_NATIONAL),
    ),
    m.LIST_LEAVES: (
        Allow(Role.CS, Scope.SAME_PREFECTURE),
        Allow(Role.PREFECTURE, Scope.AT_NATIONAL),
        Allow(Role.FUHYO, Scope.AT_NATIONAL),
    ),
    # The prefecture's own operators run checks and approve repairs.
    m.RUN_CONSISTENCY_CHECK: (Allow(Role.OPERATOR, Scope.SAME_PREFECTURE),),
    m.APPROVE_REPAIRS: (Allow(Role.OPERATOR, Scope.SAME_PREFECTURE),),
    # A node's log checkpoints are witnessed by the tier above: a CS's by its prefecture
    # server, prefecture and fuhyo servers' by the national server; the national server's,
    # which has no tier above, by a prefecture server (its `witness_hop`).
    m.ADD_CHECKPOINT: (
        Allow(Role.CS, Scope.SAME_PREFECTURE),
        Allow(Role.NATIONAL),
        Allow(Role.PREFECTURE, Scope.AT_NATIONAL),
        Allow(Role.FUHYO, Scope.AT_NATIONAL),
    ),
    # What a witness cosigned (sizes and roots only) is for any operator, as an auditor, and for
    # the other witness of the national server's logs (gossip: transparency/gossip.py).
    m.GET_WITNESSED_CHECKPOINT: (Allow(Role.OPERATOR), Allow(Role.PREFECTURE)),
    # The prefecture's own operators publish and export its nodes' logs; the national
    # server's logs, any prefecture's operators (no national operator identity exists yet).
    m.PUBLISH_CHECKPOINT: _LOG_OPERATORS,
    m.EXPORT_LOG: _LOG_OPERATORS,
    m.GET_SELF_INSPECTION: _LOG_OPERATORS,
    # A consistency proof of a log: for its operators, and the national server's witnesses.
    m.GET_CONSISTENCY_PROOF: (*_LOG_OPERATORS, Allow(Role.PREFECTURE, Scope.AT_NATIONAL)),
    # Operators see counts and states (no personal data) of any node.
    m.GET_NODE_STATUS: (Allow(Role.OPERATOR),),
    # The access-right ledger: any operator identity reaches it; only the node's configured
    # administrators are then admitted (trust/access.py).
    m.GRANT_ACCESS: (Allow(Role.OPERATOR),),
    m.APPROVE_ACCESS: (Allow(Role.OPERATOR),),
    m.REVOKE_ACCESS: (Allow(Role.OPERATOR),),
    m.LIST_ACCESS: (Allow(Role.OPERATOR),),
    # Trust material flows down the tree: national to prefecture and fuhyo servers, a
    # prefecture server to its own CSs (all of it public, and CA-signed).
    m.GET_TRUST_MATERIAL: (
        Allow(Role.PREFECTURE, Scope.AT_NATIONAL),
        Allow(Role.FUHYO, Scope.AT_NATIONAL),
        Allow(Role.CS, Scope.SAME_PREFECTURE),
    ),
    # Any identity renews its own certificate at the CA's signing service (it issues only for
    # the calling identity, with what the operator approved: ca/signing.py).
    m.RENEW_CERTIFICATE: (ANY_NETWORK_IDENTITY,),
    # Liveness and schema, for every identity of the network.
    m.HEALTH_CHECK: (ANY_NETWORK_IDENTITY,),
    m.HEALTH_WATCH: (ANY_NETWORK_IDENTITY,),
    m.HEALTH_LIST: (ANY_NETWORK_IDENTITY,),
    m.REFLECTION_INFO: (ANY_NETWORK_IDENTITY,),
}
# fmt: on

# Beside the policy, the right an operator must hold in the node's access-right ledger for each
# operator method (deny by default: an operator method in neither RIGHTS nor ADMINISTRATION is
# refused to operators; a test checks every operator method is in one of them).
RIGHTS: Mapping[str, Right] = {
    m.GET_NODE_STATUS: Right.STATUS,
    m.GET_CHANGE_STATUS: Right.STATUS,
    m.DISCLOSE_RECORD: Right.DISCLOSE,
    m.GET_PROVISION_STATISTICS: Right.STATISTICS,
    m.APPROVE_BULK_PROVISION: Right.APPROVE_BULK,
    m.RUN_CONSISTENCY_CHECK: Right.CONSISTENCY,
    m.APPROVE_REPAIRS: Right.CONSISTENCY,
    m.PUBLISH_CHECKPOINT: Right.LOGS,
    m.EXPORT_LOG: Right.LOGS,
    m.GET_SELF_INSPECTION: Right.LOGS,
    m.GET_WITNESSED_CHECKPOINT: Right.LOGS,
    m.GET_CONSISTENCY_PROOF: Right.LOGS,
}
# Methods only the node's administrators may call (and need no grant for).
ADMINISTRATION = frozenset({m.GRANT_ACCESS, m.APPROVE_ACCESS, m.REVOKE_ACCESS, m.LIST_ACCESS})

# Health and reflection are not operator *actions*; everything else they call is.
_NOT_AUDITED = frozenset({m.HEALTH_CHECK, m.HEALTH_WATCH, m.HEALTH_LIST, m.REFLECTION_INFO})
# What any identity may do for itself with no grant: liveness, schema, renewing its certificate.
NO_RIGHT_NEEDED = _NOT_AUDITED | {m.RENEW_CERTIFICATE, m.LIST_TASKS}

_caller: contextvars.ContextVar[Identity] = contextvars.ContextVar("juki_caller")


def current_caller() -> Identity:
    """The authorised caller of the RPC being served (set by the interceptor)."""
    return _caller.get()


class AuthorizationInterceptor(grpc.ServerInterceptor):
    """Applies `policy` to every call, and maps refusals to statuses + audit entries."""

    def __init__(
        self,
        node: Identity,
        audit: AuditLog,
        policy: Mapping[str, tuple[Allow, ...]] = POLICY,
        revocation: RevocationList | None = None,
        access: AccessLedger | None = None,
    ) -> None:
        self._node = node
        self._audit = audit
        self._policy = policy
        self._revocation = revocation
        self._access = access

    def authorize(self, method: str, context: grpc.ServicerContext) -> Identity:
        """The caller's identity if admitted to `method`; raises RefusedError otherwise."""
        caller = peer_identity(context, self._node.trust_domain)
        if caller is None:
            raise RefusedError(Reason.NO_NETWORK_IDENTITY)
        if self._revocation is not None:
            self._revocation.check(peer_certificate_pem(context))
        if not any(rule.admits(caller, self._node) for rule in self._policy.get(method, ())):
            raise RefusedError(
                Reason.CALLER_NOT_ADMITTED,
                f"this identity may not call {method} on this node",
                method=method,
            )
        if caller.role is Role.OPERATOR and self._access is not None:
            self._check_access(caller, method, self._access)
        return caller

    @staticmethod
    def _check_access(caller: Identity, method: str, access: AccessLedger) -> None:
        """The access-right ledger's word on an operator's call (deny by default)."""
        if method in ADMINISTRATION:
            access.check_administrator(caller)
        elif method not in NO_RIGHT_NEEDED:
            right = RIGHTS.get(method)
            if right is None or not access.allows(caller.spiffe_id, right):
                raise RefusedError(Reason.NO_ACCESS_GRANT, right=str(right or "none"))

    def _record(self, actor: str, method: str, outcome: str, reason: str = "") -> None:
        try:
            self._audit.append(actor=actor, action=method, outcome=outcome, reason=reason)
        except Exception:  # the refusal itself must still reach the caller
            log.exception("audit append failed for %s", method)

    def _record_success(self, caller: Identity, method: str) -> None:
        """Every operator's action that succeeded, unary or streamed (ExportLog hands over a
        whole log), is an entry of the audit log."""
        if caller.role is Role.OPERATOR and method not in _NOT_AUDITED:
            self._record(caller.spiffe_id, method, "ok")

    def _refused(self, actor: str, method: str, refusal: RefusedError, started: float) -> None:
        """A refusal's audit entry and metrics (reason codes and methods only)."""
        self._record(actor, method, "refused", refusal.reason)
        metrics.REFUSALS.add(1, {"method": method, "reason": refusal.reason})
        code = (refusal.code or status_code_of(refusal.reason)).name
        metrics.RPC_DURATION.record(time.perf_counter() - started, {"method": method, "code": code})

    def _admit(self, method: str, context: grpc.ServicerContext, started: float) -> Identity:
        """`authorize`, recording and aborting the call on refusal."""
        try:
            return self.authorize(method, context)
        except RefusedError as refusal:
            self._refused(_peer_spiffe_id(context), method, refusal, started)
            abort(context, refusal)

    def _guard(self, method: str, behavior: Callable[..., Any], streaming: bool) -> Any:
        timed = {"method": method, "code": "OK"}

        def checked(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            caller = self._admit(method, context, started)
            actor = caller.spiffe_id
            token = _caller.set(caller)
            try:
                result = behavior(request, context)
                self._record_success(caller, method)
                metrics.RPC_DURATION.record(time.perf_counter() - started, timed)
                return result
            except RefusedError as refusal:
                self._refused(actor, method, refusal, started)
                abort(context, refusal)
            except Exception:  # ended by an abort (INTERNAL, INVALID_ARGUMENT, …): timed too
                _time_ended(method, context, started)
                raise
            finally:
                _caller.reset(token)

        def checked_stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            # Streaming responses: authorise before the first message is produced.
            started = time.perf_counter()
            caller = self._admit(method, context, started)
            token = _caller.set(caller)
            try:
                yield from behavior(request, context)
                self._record_success(caller, method)
                metrics.RPC_DURATION.record(time.perf_counter() - started, timed)
            except RefusedError as refusal:
                self._refused(caller.spiffe_id, method, refusal, started)
                abort(context, refusal)
            except Exception:
                _time_ended(method, context, started)
                raise
            finally:
                _caller.reset(token)

        return checked_stream if streaming else checked

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        kinds: tuple[tuple[str, Callable[..., grpc.RpcMethodHandler[Any, Any]], bool], ...] = (
            ("unary_unary", grpc.unary_unary_rpc_method_handler, False),
            ("unary_stream", grpc.unary_stream_rpc_method_handler, True),
            ("stream_unary", grpc.stream_unary_rpc_method_handler, False),
            ("stream_stream", grpc.stream_stream_rpc_method_handler, True),
        )
        for attribute, factory, streaming in kinds:
            behavior = getattr(handler, attribute)
            if behavior is not None:
                return factory(
                    self._guard(method, behavior, streaming),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler  # pragma: no cover - gRPC always sets one behaviour


def _time_ended(method: str, context: grpc.ServicerContext, started: float) -> None:
    """Time a call a handler or the innermost interceptor ended with an error status."""
    code = context.code() if hasattr(context, "code") else None
    name = code.name if isinstance(code, grpc.StatusCode) else "INTERNAL"
    metrics.RPC_DURATION.record(time.perf_counter() - started, {"method": method, "code": name})


def _peer_spiffe_id(context: grpc.ServicerContext) -> str:
    """Who a refused peer claimed to be, for the audit log ("(none)", or too long to keep)."""
    values = peer_spiffe_ids(context)
    if not values:
        return "(none)"
    return kept(values[0], SPIFFE_ID) or "(too long)"
