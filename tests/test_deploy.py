"""Deployment: the systemd unit runs `juki-net serve` restarted on failure, in a hardened
sandbox; the container image runs the CLI as a user of its own; every Kubernetes overlay renders
(`kubectl kustomize`) with probes, no secret inline, and a NetworkPolicy whose edges are the
policy table's."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from jukinet.core import methods as m
from jukinet.core.config import NodeConfig
from jukinet.core.identity import Identity, Role
from jukinet.trust import authz
from services import spec_for

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


# -- the container image and the Kubernetes manifests ------------------------------------------
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = {"national": Role.NATIONAL, "prefecture-14": Role.PREFECTURE, "fuhyo-14": Role.FUHYO}
OVERLAYS["cs-141003"] = Role.CS
SAMPLES = {
    Role.NATIONAL: "spiffe://juki.example/national",
    Role.PREFECTURE: "spiffe://juki.example/prefecture/14",
    Role.FUHYO: "spiffe://juki.example/fuhyo/14",
    Role.CS: "spiffe://juki.example/cs/141003",
}


def test_the_image_runs_the_cli_as_a_user_with_a_grpc_health_check() -> None:
    lines = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8").splitlines()
    user = [line for line in lines if line.startswith("USER ")]
    assert user and user[-1] not in ("USER root", "USER 0")
    assert any(line.startswith('ENTRYPOINT ["juki-net"]') for line in lines)
    health = next(i for i, line in enumerate(lines) if line.startswith("HEALTHCHECK"))
    assert '"juki-net", "health"' in lines[health + 1]


def _render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is installed by scripts/system-packages.sh"
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _edges(kind: Role) -> set[str]:
    """The node roles the policy table lets call a node of `kind` on what it serves."""
    node = Identity.parse(SAMPLES[kind])
    served = [p for name in spec_for(kind).service_names for p in m.methods_of(name)]
    return {
        role.value
        for role, spiffe_id in SAMPLES.items()
        if any(
            rule.admits(Identity.parse(spiffe_id), node)
            for method in served
            if method not in authz.NO_RIGHT_NEEDED
            for rule in authz.POLICY.get(method, ())
        )
    }


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_each_overlay_renders_with_probes_no_inline_secret_and_the_policy_tables_edges(
    overlay: str,
) -> None:
    docs = _render(overlay)
    kinds = {doc["kind"]: doc for doc in docs}
    assert {"StatefulSet", "Service", "NetworkPolicy", "ConfigMap"} <= set(kinds)
    assert "Secret" not in kinds  # secrets are the operators', never in the manifests
    stateful = kinds["StatefulSet"]
    pod = stateful["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"][:2] == ["juki-net", "health"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    for variable in container.get("env", []):
        assert "value" not in variable, "no value inline: from a Secret"
    (database,) = [v for v in container["env"] if v["name"] == "JUKI_DATABASE_URL"]
    assert database["valueFrom"]["secretKeyRef"]["name"] == f"{overlay}-database"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["certificates"]["csi"]["driver"] == "spiffe.csi.cert-manager.io"
    config = NodeConfig.from_dict(tomllib.loads(kinds["ConfigMap"]["data"]["config.toml"]))
    assert config.identity.role is OVERLAYS[overlay]
    assert str(config.credentials.cert_file).startswith("/run/juki-net/certificates/")
    assert config.metrics_listen == "0.0.0.0:9464"
    # The NetworkPolicy lets exactly the policy table's callers in.
    policy = kinds["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"]["juki-net/node"] == overlay
    grpc_rule = next(rule for rule in policy["ingress"] if rule["ports"] == [{"port": 7000}])
    allowed = {
        peer["podSelector"]["matchLabels"]["juki-net/role"]
        for peer in grpc_rule["from"]
        if "podSelector" in peer
    }
    assert allowed == _edges(OVERLAYS[overlay])
    assert stateful["spec"]["selector"]["matchLabels"]["juki-net/node"] == overlay


def test_every_kind_of_node_has_an_overlay() -> None:
    assert set(OVERLAYS.values()) == {Role.NATIONAL, Role.PREFECTURE, Role.FUHYO, Role.CS}
    assert {p.name for p in (K8S / "overlays").iterdir()} == set(OVERLAYS)
