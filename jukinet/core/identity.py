"""Who a peer is: the SPIFFE ID in its certificate's single URI SAN.

IDs look like ``spiffe://juki.example/<role>/<code>[/<name>]``:

=================  ==========================================  ====================
role               path                                        jurisdiction
=================  ==========================================  ====================
national           ``national``                                the whole country
ca                 ``ca``                                      the network CA's signing service
prefecture         ``prefecture/<2-digit prefecture>``         that prefecture
fuhyo              ``fuhyo/<2-digit prefecture>``              that prefecture
cs                 ``cs/<6-digit municipality>``               that municipality
register           ``register/<6-digit municipality>``         that municipality
organ              ``organ/<2-digit prefecture>/<name>``       that prefecture
operator           ``operator/<2-digit prefecture>/<id>``      that prefecture
agency             ``agency/<name>``                           a national agency (別表第1)
=================  ==========================================  ====================

``register`` is the municipality's own register system (既存住基システム),
the only client allowed to enter changes at its CS.
"""

from __future__ import annotations

import enum
import re
import ssl
from dataclasses import dataclass
from typing import Any

import grpc

from jukinet.core.sizes import SPIFFE_ID

DEFAULT_TRUST_DOMAIN = "juki.example"


class Role(enum.StrEnum):
    """The kinds of identity the network knows."""

    NATIONAL = "national"
    CA = "ca"
    PREFECTURE = "prefecture"
    FUHYO = "fuhyo"
    CS = "cs"
    REGISTER = "register"
    ORGAN = "organ"
    OPERATOR = "operator"
    AGENCY = "agency"


# The roles that are nodes of the network (servers), as opposed to their clients.
NODE_ROLES = frozenset({Role.NATIONAL, Role.PREFECTURE, Role.FUHYO, Role.CS, Role.CA})

_PREF = r"(?:0[1-9]|[1-3][0-9]|4[0-7])"
_MUNI = rf"{_PREF}[0-9]{{4}}"
_NAME = r"[a-z0-9][a-z0-9-]{0,62}"
_PATHS: dict[Role, re.Pattern[str]] = {
    Role.NATIONAL: re.compile(r""),
    Role.CA: re.compile(r""),
    Role.PREFECTURE: re.compile(_PREF),
    Role.FUHYO: re.compile(_PREF),
    Role.CS: re.compile(_MUNI),
    Role.REGISTER: re.compile(_MUNI),
    Role.ORGAN: re.compile(rf"{_PREF}/{_NAME}"),
    Role.OPERATOR: re.compile(rf"{_PREF}/{_NAME}"),
    Role.AGENCY: re.compile(_NAME),
}
# Roles whose path is a name only (no prefecture or municipality code).
_NAME_ONLY = frozenset({Role.AGENCY})
_TRUST_DOMAIN = re.compile(r"[a-z0-9.-]{1,255}")


class IdentityError(ValueError):
    """A certificate or string that is not a juki-net SPIFFE ID."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A parsed juki-net identity.

    `code` is the prefecture (2 digits) or municipality (6 digits) code, empty
    for the national server; `name` is the organ or operator id.
    """

    trust_domain: str
    role: Role
    code: str = ""
    name: str = ""

    @property
    def spiffe_id(self) -> str:
        """The identity as a SPIFFE ID URI."""
        parts = [self.role.value]
        if self.code:
            parts.append(self.code)
        if self.name:
            parts.append(self.name)
        return f"spiffe://{self.trust_domain}/{'/'.join(parts)}"

    @property
    def label(self) -> str:
        """The identity as one name: role, code and name joined by '-' (e.g. 'cs-141003')."""
        return "-".join(p for p in (self.role.value, self.code, self.name) if p)

    @property
    def prefecture(self) -> str:
        """The 2-digit prefecture this identity belongs to ('' for national)."""
        return self.code[:2]

    def __str__(self) -> str:
        return self.spiffe_id

    @classmethod
    def parse(cls, spiffe_id: str) -> Identity:
        """Parse a SPIFFE ID; raises IdentityError if it is not one of ours."""
        prefix = "spiffe://"
        if len(spiffe_id) > SPIFFE_ID:
            raise IdentityError(f"longer than {SPIFFE_ID} characters")
        if not spiffe_id.startswith(prefix):
            raise IdentityError("not a spiffe:// URI")
        domain, _, path = spiffe_id[len(prefix) :].partition("/")
        if not _TRUST_DOMAIN.fullmatch(domain):
            raise IdentityError("bad trust domain")
        role_text, _, rest = path.partition("/")
        try:
            role = Role(role_text)
        except ValueError:
            raise IdentityError("unknown role") from None
        if not _PATHS[role].fullmatch(rest):
            raise IdentityError(f"malformed {role.value} path")
        code, _, name = ("", "", rest) if role in _NAME_ONLY else rest.partition("/")
        return cls(trust_domain=domain, role=role, code=code, name=name)

    @classmethod
    def of(
        cls, role: Role, code: str = "", name: str = "", trust_domain: str = DEFAULT_TRUST_DOMAIN
    ) -> Identity:
        """Build and check an identity from its parts."""
        parts = "/".join(p for p in (role.value, code, name) if p)
        return cls.parse(f"spiffe://{trust_domain}/{parts}")


def _auth_values(context: grpc.ServicerContext, key: str) -> list[bytes]:
    # grpc's stubs type auth_context() as Mapping[str, bytes]; it maps to lists of bytes.
    raw: Any = context.auth_context().get(key, ())
    return [v for v in raw if isinstance(v, bytes)]


def peer_spiffe_ids(context: grpc.ServicerContext) -> list[str]:
    """The ``peer_spiffe_id`` values of the verified TLS peer (normally zero or one)."""
    return [v.decode("ascii", "replace") for v in _auth_values(context, "peer_spiffe_id")]


def peer_certificate_pem(context: grpc.ServicerContext) -> bytes:
    """The verified TLS peer's certificate (PEM), b'' if there is none."""
    return next(iter(_auth_values(context, "x509_pem_cert")), b"")


def peer_certificate_der(context: grpc.ServicerContext) -> bytes:
    """The verified TLS peer's certificate (DER), b'' if there is none."""
    pem = peer_certificate_pem(context)
    return ssl.PEM_cert_to_DER_cert(pem.decode("ascii")) if pem else b""


def peer_identity(context: grpc.ServicerContext, trust_domain: str) -> Identity | None:
    """The caller's identity from the verified TLS peer, or None.

    gRPC sets ``peer_spiffe_id`` only when the verified client certificate has
    exactly one URI SAN and it is a SPIFFE ID; anything else (no certificate,
    several URIs, a foreign trust domain) yields None.
    """
    values = peer_spiffe_ids(context)
    if len(values) != 1:
        return None
    try:
        identity = Identity.parse(values[0])
    except IdentityError:
        return None
    return identity if identity.trust_domain == trust_domain else None


def hop_peer(node: Identity, hop: str) -> Identity | None:
    """The identity at the other end of a node's hop, by the shape of the network.

    A CS forwards to its prefecture server (next_hop) and its fuhyo server
    (fuhyo_hop); prefecture and fuhyo servers forward to the national server
    (next_hop); a fuhyo server asks its own prefecture server (link_hop).
    None where the node has no such hop.
    """
    pref, domain = node.prefecture, node.trust_domain
    peers = {
        (Role.CS, "next_hop"): (Role.PREFECTURE, pref),
        (Role.CS, "fuhyo_hop"): (Role.FUHYO, pref),
        (Role.PREFECTURE, "next_hop"): (Role.NATIONAL, ""),
        (Role.FUHYO, "next_hop"): (Role.NATIONAL, ""),
        (Role.FUHYO, "link_hop"): (Role.PREFECTURE, pref),
    }
    peer = peers.get((node.role, hop))
    return None if peer is None else Identity.of(peer[0], peer[1], trust_domain=domain)
