"""Every command the README shows, run as shown against a running network, and command 1 itself.

The README's ```bash blocks are read in order; each command (continuation lines joined, the
trailing comment dropped) runs in bash from a folder where `.juki-state` is the test network's
state folder and `examples/`, `certs/` are the project's, with the project's `juki-net` and
grpcurl first on PATH. ADDRESS stands for a node's address and METRICS for its metrics address
(prefecture-14's). Only `scripts/test.sh` and `scripts/lock.sh` (which ends by running the
suite) are not run here. The ```sh blocks of "Running nodes on separate hosts", each line
prefixed with the host it runs on, are what tests/test_hosts.py runs in network namespaces.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from jukinet.core.config import NodeConfig
from jukinet.dev.localnet import LocalNetwork

ROOT = Path(__file__).resolve().parent.parent
# CI's own command; command 1, run below; the lock's, which ends by running this suite (its
# --check and its mistakes are tests/test_lock.py's).
NOT_RUN_HERE = ("scripts/test.sh", "scripts/up.sh", "scripts/lock.sh")


def readme_commands() -> list[str]:
    """Every command of the README's bash blocks, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        joined = re.sub(r"\\\n\s*", "", block)
        for line in joined.splitlines():
            command = line.split("  # ", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def test_the_config_example_is_a_node_config() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    config = NodeConfig.from_dict(tomllib.loads(example), base=Path("/srv/node"))
    assert config.next_hop is not None and config.signing_service is not None
    assert config.credentials.cert_file == Path("/srv/node/node.crt")


def _environment() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.mark.timeout(300)  # some 40 commands, each its own process, on a network it starts
def test_every_readme_command_runs_as_shown(network: LocalNetwork, tmp_path: Path) -> None:
    commands = readme_commands()
    assert any(c.startswith("juki-net query") for c in commands)
    assert any(c.startswith("certs/rollover.sh") for c in commands)
    assert any(c.startswith("grpcurl") for c in commands)
    for name in ("examples", "certs"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / ".juki-state").symlink_to(network.dir)
    address = network.node_info("prefecture-14").address
    metrics = network.node_info("prefecture-14").metrics_address or ""
    ran = 0
    for command in commands:
        if command.startswith(NOT_RUN_HERE):
            continue
        done = subprocess.run(
            ["bash", "-c", command.replace("ADDRESS", address).replace("METRICS", metrics)],
            cwd=tmp_path,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr, command
        ran += 1
    assert ran >= 30
    # What the examples promised: the results file, and the revoked certificate.
    assert len((tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()) == 3
    assert (
        '"status": "REVOKED"'
        in subprocess.run(
            ["bash", "-c", "certs/inspect.sh out/cs-141003.crt pki/bundle.pem"],
            cwd=tmp_path,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )


@pytest.mark.timeout(400)
def test_command_one_brings_up_the_network_and_runs_the_demo(tmp_path: Path) -> None:
    process = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "up.sh"), "--state-dir", str(tmp_path / "state")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("running; press Ctrl-C to stop"):
                break
        os.killpg(process.pid, signal.SIGTERM)
        rest, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    output = "".join(lines) + rest
    assert process.returncode == 0, output[-3000:]
    for expected in (
        "juki-net: 8 nodes up",
        "demo: EMIGRATION",
        "answered by the national server: True",
        "a tax task by the NPO office: refused PERMISSION_DENIED [TASK_NOT_FOR_CALLER]",
        "My Number received (12 digits)",
        "fuhyo5-passport: refused PERMISSION_DENIED [ITEM_NOT_ALLOWED_FOR_TASK]",
        "refused PERMISSION_DENIED [NO_ACCESS_GRANT]",
        "admin-b approves it (the two-person rule): in effect",
        "provisions proven in the log at size",
        "cosigned by juki.example/national (1 of the 1 needed)",
        "by juki.example/prefecture/13, juki.example/prefecture/14",
        "altered at index",
        "demo: metrics: curl http://127.0.0.1:",
        'juki_provisions_total{outcome="provided",task="pref5-passport"}',
        'juki_outbox_depth{destination="next_hop"}',
        "stopping",
    ):
        assert expected in output, expected
    assert "unexpected" not in output.lower() and "Traceback" not in output
