"""Who witnesses whose logs: the one rule the CA writes into each key document.

A witness cosigns a node's checkpoints only if the node's CA-signed key document names it; a
verifier counts only the cosignatures of the witnesses so named (transparency/witness.py,
cli/audit.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from jukinet.core.config import WITNESS_HOPS
from jukinet.core.identity import Identity, IdentityError, Role

# The roles that serve WitnessService (services/shared/transparency.py add_transparency).
WITNESS_ROLES = frozenset({Role.PREFECTURE, Role.NATIONAL})


# The national server has no tier above: the prefecture servers that witness its logs, as its
# key-document request names them (its witness hops) and the CA operator signs; at most as
# many as its config has witness hops (two).
NATIONAL_WITNESSES = len(WITNESS_HOPS)


def witnesses_of(owner: Identity, requested: Iterable[Identity] = ()) -> list[Identity]:
    """The nodes that witness `owner`'s logs: the tier above (a CS's prefecture server, a
    prefecture or fuhyo server's national server); the national server's, the prefecture
    servers it `requested` (at most NATIONAL_WITNESSES). The one rule the CA applies when it
    signs a key document (`KeyDocument.witnesses`); witnesses and verifiers then read it from
    the CA-signed document, so whoever also holds another node's key (a fuhyo server in the
    same data centre) cannot vouch for a rewritten log with it, and no other node cosigns a
    "first" checkpoint of a log that is not its own to witness."""
    domain = owner.trust_domain
    if owner.role is Role.CS:
        return [Identity.of(Role.PREFECTURE, owner.prefecture, trust_domain=domain)]
    if owner.role in (Role.PREFECTURE, Role.FUHYO):
        return [Identity.of(Role.NATIONAL, trust_domain=domain)]
    if owner.role is Role.NATIONAL:
        asked = [w for w in requested if w.role is Role.PREFECTURE and w.trust_domain == domain]
        return list(dict.fromkeys(asked))[:NATIONAL_WITNESSES]
    return []


def witness_ids_of(spiffe_id: str, requested: Iterable[str] = ()) -> list[str]:
    """`witnesses_of` by SPIFFE ID (none for what is not a network identity; a requested
    witness that is not one is left out)."""
    asked = []
    for witness in requested:
        try:
            asked.append(Identity.parse(witness))
        except IdentityError:
            continue
    try:
        return [w.spiffe_id for w in witnesses_of(Identity.parse(spiffe_id), asked)]
    except IdentityError:
        return []
