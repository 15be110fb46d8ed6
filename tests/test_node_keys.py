"""A node folder's own key rotation, national's witness, a client's renewal: the commands of a
node on its own host, as its operator types them (`juki-net node rotate-keys|retire-keys`,
`node init --witness-hop`, `pki renew-client`). The rotation across real hosts, with the new
keys in use, is tests/test_hosts.py."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path

from juki.v1 import envelope_pb2
from jukinet.core.clock import SYSTEM
from jukinet.sealing.keys import NodeKeyring
from tests.helpers.cli import juki_net


def _ok(*args: str) -> str:
    done = juki_net(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _mistake(*args: str) -> str:
    done = juki_net(*args)
    assert done.returncode == 2 and done.stdout == "", (done.stdout, done.stderr)
    (line,) = done.stderr.splitlines()
    return line


def _bundle(tmp_path: Path) -> Path:
    _ok("pki", "init-ca", "--dir", str(tmp_path / "pki"))
    return tmp_path / "pki" / "bundle.pem"


def _init(tmp_path: Path, name: str, *args: str) -> Path:
    folder = tmp_path / name
    _ok("node", "init", "--dir", str(folder), "--listen", "10.0.0.12:7001",
        "--bundle", str(tmp_path / "pki" / "bundle.pem"), *args)  # fmt: skip
    return folder


def _requested_key_ids(folder: Path) -> set[str]:
    request = (folder / "key-document.request").read_bytes()
    return {k.key_id for k in envelope_pb2.KeyDocument.FromString(request).keys}


def test_a_node_folder_rotates_then_retires_its_sealing_keys(tmp_path: Path) -> None:
    _bundle(tmp_path)
    folder = _init(tmp_path, "prefecture-14", "--role", "prefecture", "--code", "14")
    first = _requested_key_ids(folder)
    assert len(first) == 3  # encryption, signing, log
    assert "nothing to retire" in _mistake("node", "retire-keys", "--dir", str(folder))
    out = _ok("node", "rotate-keys", "--dir", str(folder))
    assert "key-document.request" in out and "pki sign-keys" in out
    rotated = _requested_key_ids(folder)
    assert first < rotated and len(rotated) == 6  # a new encryption, signing and log key
    # Not active for two hours: nothing is superseded yet.
    assert "nothing to retire" in _mistake("node", "retire-keys", "--dir", str(folder))
    assert "caution" not in out  # two hours: time enough for 4 refreshes of 300 s
    soon = _ok("node", "rotate-keys", "--dir", str(folder), "--activate-in-hours", "0")
    assert "caution: that is sooner than the signed document can reach every node" in soon
    _ok("node", "retire-keys", "--dir", str(folder))
    ring = NodeKeyring(folder / "sealing-keys.json")
    ring.refresh()
    kept = {e.key_id for e in ring.entries}
    assert kept == _requested_key_ids(folder)
    # The log keys stay (checkpoints must stay verifiable), the first one's window ended an hour
    # after its successor started; the keys waiting for their time stay; the first encryption
    # and signing keys are gone.
    assert len(kept) == 7 and first - kept and {k for k in first if k.startswith("log-")} < kept
    first_log = next(e for e in ring.entries if e.key_id in first)
    assert first_log.not_after < SYSTEM.now() + dt.timedelta(hours=1, minutes=5)
    assert "--activate-in-hours" in _mistake(
        "node", "rotate-keys", "--dir", str(folder), "--activate-in-hours", "-1"
    )
    assert "not a node folder" in _mistake("node", "rotate-keys", "--dir", str(tmp_path))


def test_nationals_witness_is_a_prefecture_named_at_init(tmp_path: Path) -> None:
    _bundle(tmp_path)
    published = ("--trust-source", str(tmp_path / "pki" / "published"))
    folder = _init(
        tmp_path, "national", "--role", "national", *published,
        "--witness-hop", "10.0.0.12:7001", "--witness-prefecture", "13",
    )  # fmt: skip
    config = tomllib.loads((folder / "config.toml").read_text(encoding="utf-8"))
    assert config["witness_hop"] == {
        "address": "10.0.0.12:7001",
        "spiffe_id": "spiffe://juki.example/prefecture/13",
    }
    init = (
        "node",
        "init",
        "--listen",
        "10.0.0.1:7001",
        "--bundle",
        str(tmp_path / "pki/bundle.pem"),
    )
    assert "only the national server" in _mistake(
        *init, "--dir", str(tmp_path / "p"), "--role", "prefecture", "--code", "14",
        "--witness-hop", "10.0.0.12:7001", "--witness-prefecture", "13",
    )  # fmt: skip
    assert "go together" in _mistake(
        *init, "--dir", str(tmp_path / "n"), "--role", "national", *published,
        "--witness-hop", "10.0.0.12:7001",
    )  # fmt: skip


def test_a_client_renews_only_where_a_signing_service_is_named(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    folder = _init(tmp_path, "cs-141003", "--role", "cs", "--code", "141003")
    out = tmp_path / "network.json"
    _ok("network", "describe", "--config", str(folder / "config.toml"), "--bundle", str(bundle),
        "--out", str(out))  # fmt: skip
    assert "names no signing service" in _mistake(
        "pki", "renew-client", "--network", str(out), "--as", "operator"
    )
    _ok("network", "describe", "--config", str(folder / "config.toml"), "--bundle", str(bundle),
        "--signing-service", "10.0.0.10:7100", "--out", str(out))  # fmt: skip
    described = json.loads(out.read_text(encoding="utf-8"))["signing_service"]
    assert described["spiffe_id"] == "spiffe://juki.example/ca"
    assert described["tls_name"] == "ca.juki.example"
    assert "no client 'operator'" in _mistake(
        "pki", "renew-client", "--network", str(out), "--as", "operator"
    )
    assert "--signing-service" in _mistake(
        "network", "describe", "--config", str(folder / "config.toml"), "--bundle", str(bundle),
        "--signing-service", "nowhere", "--out", str(out),
    )  # fmt: skip
