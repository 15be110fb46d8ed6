"""`juki-net node rotate-keys|retire-keys`: sealing-key rotation of a node on its own host.

The private keys stay in the node folder; what travels is a new key-document
request, signed at the CA (`juki-net pki sign-keys`) and carried to every node
with the trust material. The new keys are used only from an activation time
(default two hours on): by then every peer holds the signed document, so no
one is refused for sealing to, or verifying, a key it has not seen. Once they
are active and the old keys' envelopes are no longer in flight, `retire-keys`
drops the old ones and asks for a document without them.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from jukinet.cli.errors import UsageError, node_config
from jukinet.cli.parsing import Subcommands, command
from jukinet.core import clock
from jukinet.core.config import NodeConfig
from jukinet.sealing.keys import NodeKeyring, retire, rotate, superseded
from jukinet.trust import pki

CONFIG, KEY_REQUEST = "config.toml", "key-document.request"


# A signed key document reaches a CS three refreshes after the CA publishes it (national,
# prefecture, CS), give or take one.
TIERS = 4


def _node(folder: Path) -> tuple[NodeConfig, NodeKeyring]:
    """The node's config and keyring, from its folder."""
    if not (folder / CONFIG).exists():
        raise UsageError(f"{folder}: not a node folder (no {CONFIG})")
    config = node_config(folder / CONFIG)
    if not config.keyring_file.is_file():
        raise UsageError(f"{config.keyring_file}: the node's sealing keys are missing")
    return config, NodeKeyring(config.keyring_file)


def write_key_request(folder: Path, config: NodeConfig, ring: NodeKeyring) -> Path:
    """Write the node's key-document request: every key it holds, and the witnesses it asks to
    be named (its witness_hop and second_witness_hop: the national server's; the CA decides,
    trust/witnesses.py)."""
    request = folder / KEY_REQUEST
    witnesses = [hop.spiffe_id for hop in config.witness_hops]
    document = ring.document(config.spiffe_id, clock.SYSTEM.now(), witnesses)
    pki.write_atomic(request, document.SerializeToString())
    return request


def cmd_rotate(args: argparse.Namespace) -> int:
    """New sealing keys, active from --activate-in-hours on, and a request for their document."""
    if args.activate_in_hours < 0:
        raise UsageError("--activate-in-hours: must be 0 or more")
    config, ring = _node(args.dir)
    now = clock.SYSTEM.now()
    active_from = now + dt.timedelta(hours=args.activate_in_hours)
    rotate(ring, now, active_from)
    request = write_key_request(args.dir, config, ring)
    print(f"new sealing keys, used from {active_from:%Y-%m-%d %H:%M} UTC")
    print(f"  send {request} to the CA operator (juki-net pki sign-keys) well before then")
    needed_s = TIERS * config.trust_refresh_s
    if args.activate_in_hours * 3600 < needed_s:
        print(
            f"  caution: that is sooner than the signed document can reach every node "
            f"(about {needed_s:.0f} s: {TIERS} trust refreshes); until it has, peers refuse "
            "what this node signs with the new key"
        )
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    """Drop the keys newer active ones replaced, and a request for the document without them."""
    config, ring = _node(args.dir)
    ring.refresh()
    dropped = superseded(ring.entries, clock.SYSTEM.now())
    if not dropped:
        raise UsageError("nothing to retire: no key is replaced by a newer, active one yet")
    retire(ring, dropped)
    request = write_key_request(args.dir, config, ring)
    print(f"retired {len(dropped)} key(s); send {request} to the CA operator (pki sign-keys)")
    return 0


def add_commands(node: Subcommands) -> None:
    """node rotate-keys, node retire-keys."""
    rotate_cmd = command(
        node,
        "rotate-keys",
        summary="new sealing keys for a node folder, active later, and their key-document request",
        example="juki-net node rotate-keys --dir prefecture-14 --activate-in-hours 2",
        func=cmd_rotate,
    )
    rotate_cmd.add_argument("--dir", type=Path, required=True, help="the node folder")
    rotate_cmd.add_argument(
        "--activate-in-hours",
        type=float,
        default=2.0,
        help="when the new keys take over: long enough for the signed document to reach every "
        "peer (default: %(default)s)",
    )
    retire_cmd = command(
        node,
        "retire-keys",
        summary="drop the sealing keys newer active ones replaced (ends a rotation's overlap)",
        example="juki-net node retire-keys --dir prefecture-14",
        func=cmd_retire,
    )
    retire_cmd.add_argument("--dir", type=Path, required=True, help="the node folder")
