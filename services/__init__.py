"""The four kinds of juki-net node, and the CA's signing service.

Each package exposes its `SPEC` (a runtime.node.ServiceSpec).
"""

from __future__ import annotations

from jukinet.core.identity import Role
from jukinet.runtime.node import ServiceSpec


def spec_for(role: Role) -> ServiceSpec:
    """The service definition of the node kind with `role`."""
    from services import ca, cs, fuhyo, national, prefecture

    specs = {s.role: s for s in (cs.SPEC, prefecture.SPEC, fuhyo.SPEC, national.SPEC, ca.SPEC)}
    if role not in specs:
        raise ValueError(f"no node kind has the role {role}")
    return specs[role]
