"""A throwaway sealing world: a CA, a key directory and real keyrings for a few nodes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from jukinet.core import clock
from jukinet.core.config import Credentials, NodeConfig
from jukinet.sealing.envelope import Sealer
from jukinet.sealing.key_directory import KeyDirectory, publish
from jukinet.sealing.key_documents import sign_document
from jukinet.sealing.keys import NodeKeyring, new_entries
from jukinet.trust import pki


@dataclass
class World:
    """A CA, a key directory and a keyring per node."""

    tmp: Path
    issuer: pki.Issuer
    rings: dict[str, NodeKeyring]

    @property
    def key_dir(self) -> Path:
        return self.tmp / "keys"

    def directory(self) -> KeyDirectory:
        return KeyDirectory(self.key_dir, self.tmp / "bundle.pem")

    def add(self, spiffe_id: str, *, signature_algorithm: int = 1, published: bool = True) -> None:
        path = self.tmp / f"{spiffe_id.rsplit('/', 2)[-2]}-{spiffe_id[-2:]}.json"
        # Keys valid from an hour ago, so envelopes "sealed" minutes in the past can be made.
        created = clock.SYSTEM.now() - dt.timedelta(hours=1)
        ring = NodeKeyring.create(
            path, new_entries(created, signature_algorithm=signature_algorithm)
        )
        self.rings[spiffe_id] = ring
        if published:
            self.publish(spiffe_id)

    def publish(self, spiffe_id: str, issuer: pki.Issuer | None = None) -> None:
        doc = self.rings[spiffe_id].document(spiffe_id, clock.SYSTEM.now())
        publish(
            self.key_dir, spiffe_id.replace("/", "_"), sign_document(doc, issuer or self.issuer)
        )

    def sealer(self, spiffe_id: str) -> Sealer:
        return Sealer(spiffe_id, self.rings[spiffe_id], self.directory())

    def node_config(self, spiffe_id: str, database_url: str) -> NodeConfig:
        """A node's config for what works offline on its folder (backups): its keyring, this
        world's key directory and bundle, and `database_url`."""
        files = self.tmp / "tls"
        return NodeConfig(
            name=spiffe_id.rsplit("/", 2)[-2] + "-" + spiffe_id.rsplit("/", 1)[-1],
            spiffe_id=spiffe_id,
            listen="127.0.0.1:0",
            database_url=database_url,
            credentials=Credentials(
                cert_file=files / "c", key_file=files / "k", trust_bundle=self.tmp / "bundle.pem"
            ),
            keyring_file=self.rings[spiffe_id].path,
            key_directory=self.key_dir,
        )


def make_world(tmp_path: Path, nodes: tuple[str, ...]) -> World:
    """A fresh CA in `tmp_path`, with a published keyring for each of `nodes`."""
    issuer = pki.create_ca("test CA")
    (tmp_path / "keys").mkdir(parents=True)
    pki.write_bundle(tmp_path / "bundle.pem", [issuer.certificate])
    w = World(tmp_path, issuer, {})
    for node in nodes:
        w.add(node)
    return w
