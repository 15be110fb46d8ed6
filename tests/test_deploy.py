"""The systemd unit runs `juki-net serve` restarted on failure, in a hardened sandbox."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_systemd_unit_restarts_the_node_and_sandboxes_it() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    unit.read(ROOT / "deploy" / "systemd" / "juki-net@.service", encoding="utf-8")
    service = unit["Service"]
    assert service["ExecStart"].endswith("juki-net serve --config /var/lib/juki-net/%i/config.toml")
    assert service["Restart"] == "on-failure"
    assert service["User"] not in ("", "root")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "RestrictSUIDSGID": "yes",
        "UMask": "0077",
        "ReadWritePaths": "/var/lib/juki-net/%i",
    }.items():
        assert service[key] == value, key
    assert unit["Install"]["WantedBy"] == "multi-user.target"
