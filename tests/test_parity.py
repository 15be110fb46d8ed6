"""Fuhyo and national parity: the fuhyo server discloses a person's fuhyo record and who received
it, with proofs its witness vouches for; the national server discloses its own provisions and
counts them; both through the operator's CLI and the access-right ledger."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from jukinet.client import calls as clients
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from tests.helpers.cli import juki_net
from tests.helpers.network import running_network, versions, wait_for


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with running_network(tmp_path_factory.mktemp("net")) as net:
        yield net


def test_the_fuhyo_server_discloses_with_proofs(network: LocalNetwork, tmp_path: Path) -> None:
    rng = random.Random(4404)
    born = synthetic.birth("141003", rng)
    clients.submit_change(network.info, born)
    clients.submit_fuhyo_change(network.info, synthetic.fuhyo_entry(born, rng))
    code = born.record.juminhyo_code
    query = clients.query("fuhyo5-prefectural-tax", juminhyo_code=code)
    wait_for(lambda: clients.ask_fuhyo(network.info, "organ-14-tax-office", query).records)
    description = str(network.dir / "network.json")
    proofs = tmp_path / "proofs.json"
    done = juki_net(
        "disclose", "--network", description, "--node", "fuhyo-14", "--code", code,
        "--proofs", str(proofs),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "附票本人確認情報の開示" in done.stdout
    assert "fuhyo5-prefectural-tax" in done.stdout and "個人番号" not in done.stdout
    done = juki_net("audit", "verify-disclosure", "--network", description, "--in", str(proofs))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cosigned by juki.example/national" in done.stdout
    done = juki_net(
        "stats", "--network", description, "--node", "fuhyo-14", "--fiscal-year", "2026", "--csv"
    )
    assert done.returncode == 0 and "fuhyo5-prefectural-tax" in done.stdout, done.stderr
    # Bulk provision of fuhyo records, each row authorised and logged on its own.
    keys = tmp_path / "keys.csv"
    keys.write_text(f"juminhyo_code\n{code}\n{code[:-1]}0\n", encoding="utf-8")
    results = tmp_path / "results.jsonl"
    done = juki_net(
        "bulk", "--network", description, "--as", "organ-14-tax-office", "--task",
        "fuhyo5-prefectural-tax", "--fuhyo", "--in", str(keys), "--out", str(results),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in results.read_text().splitlines())
    assert first["records"][0]["record"]["juminhyo_code"] == code
    assert "records" not in second


def test_the_national_server_discloses_and_counts_its_own_provisions(
    network: LocalNetwork,
) -> None:
    born = synthetic.birth("131016", random.Random(4405))
    clients.submit_change(network.info, born)
    code = born.record.juminhyo_code
    wait_for(lambda: versions(network, "national", code))
    query = clients.query("nat1-pension", juminhyo_code=code)
    assert clients.ask(network.info, "agency-pension-service", query).records
    description = str(network.dir / "network.json")
    done = juki_net("disclose", "--network", description, "--node", "national", "--code", code)
    assert done.returncode == 0, done.stderr
    assert "本人確認情報の開示" in done.stdout and "nat1-pension" in done.stdout
    done = juki_net(
        "stats", "--network", description, "--node", "national", "--fiscal-year", "2026", "--csv"
    )
    assert done.returncode == 0 and "nat1-pension" in done.stdout, done.stderr
    # The clerk, granted nothing at national, is refused there.
    done = juki_net(
        "disclose", "--network", description, "--node", "national", "--code", code,
        "--operator", "clerk",
    )  # fmt: skip
    assert done.returncode == 2 and "NO_ACCESS_GRANT" in done.stderr
