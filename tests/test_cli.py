"""The juki-net command as a person meets it: every mistake is one line and exit status 2, every
command has help with an example, and the examples in examples/ are valid.

Everything runs `juki-net` (or a certs/ script) as a subprocess, as a person would.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from jukinet.client import calls as clients
from jukinet.dev import plant, synthetic
from jukinet.dev.localnet import LocalNetwork
from tests.helpers.cli import JUKI_NET, ROOT, assert_one_line_mistake, juki_net
from tests.helpers.network import versions, wait_for

EXAMPLES = ROOT / "examples"
_run = juki_net


@pytest.fixture(scope="module")
def described(network: LocalNetwork) -> str:
    """The running network's description file."""
    return str(network.dir / "network.json")


def _change_file(tmp_path: Path, edit: dict[str, object]) -> Path:
    change = json.loads((EXAMPLES / "changes" / "01_birth.json").read_text(encoding="utf-8"))
    change.update(edit)
    path = tmp_path / "change.json"
    path.write_text(json.dumps(change, ensure_ascii=False), encoding="utf-8")
    return path


def test_the_thirteen_mistakes_of_a_new_user(
    described: str, network: LocalNetwork, tmp_path: Path
) -> None:
    net = ("--network", described)
    query = ("query", *net, "--task", "pref5-passport")
    cases = [
        # 1. a client name that is not in the network description
        (
            (*query, "--as", "passport-centre", "--code", "20010090017"),
            ("no client 'passport-centre'",),
        ),
        # 2. an item name that does not exist
        (
            (
                *query,
                "--as",
                "organ-14-passport-centre",
                "--code",
                "20010090017",
                "--items",
                "name,foo",
            ),
            ("unknown item 'foo'",),
        ),
        # 3. a change file that does not exist
        (("submit", *net, str(tmp_path / "absent.json")), ("absent.json", "No such file")),
        # 4. a change file that is not JSON
        (("submit", *net, str(EXAMPLES / "bulk.csv")), ("not a juki.v1.Change", "not JSON")),
        # 5. a change reason without its prefix
        (
            ("submit", *net, str(_change_file(tmp_path, {"reason": "BIRTH"}))),
            ("Change.reason is not a juki.v1.ChangeReason; use one of CHANGE_REASON_BIRTH",),
        ),
    ]
    sapporo = tmp_path / "sapporo"
    sapporo.mkdir()
    cases += [
        # 6. a municipality with no CS in the network
        (
            ("submit", *net, str(_change_file(sapporo, {"municipality_code": "011002"}))),
            ("no cs node for 011002",),
        ),
        # 7. a network description that does not exist
        (
            ("status", "--network", str(tmp_path / "nowhere.json")),
            ("nowhere.json: no such network description",),
        ),
        # 8. a bulk file that does not exist
        (
            (
                "bulk",
                *net,
                "--as",
                "organ-14-tax-office",
                "--task",
                "pref5-prefectural-tax",
                "--in",
                str(tmp_path / "rows.csv"),
                "--out",
                str(tmp_path / "out.jsonl"),
            ),
            ("rows.csv", "No such file"),
        ),
        # 9. a node name that does not exist
        (("stats", *net, "--fiscal-year", "2026", "--node", "pref-14"), ("no node 'pref-14'",)),
        # 10, 11. renew or revoke a node the local network does not have
        (
            ("net", "renew", "--state-dir", str(network.dir), "--node", "nosuch"),
            ("no node 'nosuch'",),
        ),
        (
            ("net", "revoke", "--state-dir", str(network.dir), "--node", "nosuch"),
            ("no node 'nosuch'",),
        ),
    ]
    _each_one_line(cases)
    # Nothing was written by any of them: no node has the mistaken changes.
    assert versions(network, "cs-141003", "20010090017") == []


def test_status_into_a_closed_pipe_says_so_once(described: str) -> None:
    # 12. `juki-net status | head`: the reader is gone before the table is written.
    process = subprocess.Popen(
        [*JUKI_NET, "status", "--network", described],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    process.stdout.close()
    _, stderr = process.communicate(timeout=90)
    done = subprocess.CompletedProcess(process.args, process.returncode, "", stderr)
    assert_one_line_mistake(done, "standard output was closed")


def test_certs_scripts_with_and_without_an_interpreter_that_has_juki_net(
    network: LocalNetwork, tmp_path: Path
) -> None:
    # 13. certs/inspect.sh without JUKI_PYTHON: the project's .venv is used where it exists,
    # and an interpreter without juki-net is refused in one line.
    cert = str(network.node_dir("national") / "node.crt")
    env = {k: v for k, v in os.environ.items() if k != "JUKI_PYTHON"}
    script = ["bash", str(ROOT / "certs" / "inspect.sh")]
    if (ROOT / ".venv" / "bin" / "python").exists():
        found = subprocess.run(
            [*script, cert], capture_output=True, text=True, timeout=60, env=env, check=False
        )
        assert found.returncode == 0 and json.loads(found.stdout)["spiffe_id"].endswith("national")
    bare = tmp_path / "bare"
    venv.create(bare, with_pip=False)
    refused = subprocess.run(
        [*script, cert],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "JUKI_PYTHON": str(bare / "bin" / "python")},
        cwd=tmp_path,
        check=False,
    )
    assert_one_line_mistake(refused, "juki-net is not installed")
    missing = subprocess.run(
        script, capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert_one_line_mistake(missing, "usage: inspect.sh")


def test_other_mistakes_are_one_line_too(described: str, tmp_path: Path) -> None:
    net = ("--network", described)
    organ = ("--as", "organ-14-passport-centre", "--task", "pref5-passport")
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("phone\n0120\n", encoding="utf-8")
    cases = [
        (("query", *net, *organ), ("give one search key",)),
        (("query", *net, *organ, "--code", "20010090017", "--my-number", "1"), ("got 2",)),
        (
            ("query", *net, *organ, "--kana", "ヤマダ", "--address-text", "中区"),
            ("--municipality",),
        ),
        (
            (
                "bulk",
                *net,
                "--as",
                "organ-14-tax-office",
                "--task",
                "pref5-prefectural-tax",
                "--in",
                str(bad_header),
                "--out",
                str(tmp_path / "o.jsonl"),
            ),
            ("unknown: phone",),
        ),
        (
            ("load", "--config", str(tmp_path / "none.json"), "--prefecture", "14", "--count", "1"),
            ("none.json",),
        ),
        (("load", "--config", described, "--prefecture", "99", "--count", "1"), ("prefecture",)),
        (("approve", *net, "--recipient", "x", "--task", "t", "--max-rows", "0"), ("max-rows",)),
        (("retention", "--config", described, "--now", "yesterday"), ("ISO 8601",)),
        (
            (
                "pki",
                "issue",
                "--pki-dir",
                str(tmp_path),
                "--spiffe-id",
                "spiffe://x/y",
                "--out",
                str(tmp_path),
                "--stem",
                "s",
            ),
            ("not a juki-net SPIFFE ID",),
        ),
        (("pki", "crl", "--pki-dir", str(tmp_path)), ("no CA here",)),
        (("pki", "inspect", described), ("not a PEM certificate",)),
        (("nosuchcommand",), ("invalid choice",)),
        (("query", *net), ("required",)),
        (("consistency", *net), ("give --municipality",)),
        (("consistency", *net, "--municipality", "999999"), ("not a municipality code",)),
        (("consistency", *net, "--municipality", "011002"), ("no cs node for 011002",)),
        (("consistency", *net, "--approve", "x"), ("--approve needs --node",)),
    ]
    _each_one_line(cases)


def _each_one_line(cases: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> None:
    """Run each mistaken command (each a process of its own, two at a time: none writes) and
    check it answers one line naming its problem."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda case: _run(*case[0]), cases))
    for (_, words), answer in zip(cases, done, strict=True):
        assert_one_line_mistake(answer, *words)


# Walks the command tree asking the console command's own parser for each --help (argparse
# prints it and exits), in one process: a process per command cost a minute.
_HELPS = """
import contextlib, io, json, re
from jukinet.cli.main import build_parser

def help_of(words):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        build_parser().parse_args([*words, "--help"])
    return out.getvalue()

def walk(prefix):
    found = {}
    for name in re.findall(r"^    ([a-z][a-z-]*) ", help_of(prefix), flags=re.MULTILINE):
        sub = help_of([*prefix, name])
        if re.search(r"^  COMMAND$", sub, flags=re.MULTILINE):
            found.update(walk([*prefix, name]))
        else:
            found[" ".join([*prefix, name])] = sub
    return found

print(json.dumps(walk([])))
"""


def _commands() -> dict[tuple[str, ...], str]:
    """Every leaf command with its --help, found as a person would find them."""
    done = subprocess.run(
        [sys.executable, "-c", _HELPS], capture_output=True, text=True, timeout=90, check=True
    )
    return {tuple(k.split()): v for k, v in json.loads(done.stdout).items()}


def test_help_in_one_process_is_what_the_command_line_prints() -> None:
    # The walk above asks the parser the console command runs; one command, as its own process.
    assert _run("pki", "sign", "--help").stdout == _commands()[("pki", "sign")]


def test_every_command_has_a_description_help_for_every_option_and_an_example() -> None:
    commands = _commands()
    assert len(commands) >= 24 and ("tasks",) in commands and ("pki", "inspect") in commands
    for command, help_text in commands.items():
        assert re.search(r"^example:\n  juki-net ", help_text, flags=re.MULTILINE), command
        listed = help_text.split("\n\n", 2)[2].split("\nexample:", 1)[0]
        entries = [
            e
            for e in re.split(r"\n(?=  \S)", listed)
            if e.startswith("  ") and not e.startswith("  COMMAND")
        ]
        for entry in entries:
            flag, _, described_as = entry.strip().partition("  ")
            assert described_as.strip() or "\n" in entry, f"{command}: {flag} has no help"


def test_tasks_lists_the_catalogue() -> None:
    done = _run("tasks")
    assert done.returncode == 0
    assert "pref5-passport  別表第5  旅券法" in done.stdout
    assert "fuhyo5-prefectural-tax" in done.stdout and "My Number: yes" in done.stdout
    fuhyo = _run("tasks", "--record", "fuhyo").stdout
    assert "pref5-passport" not in fuhyo and "fuhyo5-passport" in fuhyo


def test_the_example_changes_are_one_valid_life_through_every_reason(
    described: str, network: LocalNetwork
) -> None:
    files = sorted((EXAMPLES / "changes").glob("*.json"))
    reasons = {json.loads(f.read_text(encoding="utf-8"))["reason"] for f in files}
    assert len(reasons) == 12, "one example for every change reason"
    before = clients.applied_counts(network.info)["national"]
    for path in files:
        done = _run("submit", "--network", described, str(path))
        assert done.returncode == 0 and done.stdout.startswith("accepted change"), done.stderr
    wait_for(lambda: clients.applied_counts(network.info)["national"] >= before + len(files))
    assert len(versions(network, "national", "20010090025")) == len(files) - 5
    again = _run("submit", "--network", described, str(files[0]))
    assert again.returncode == 0 and "(duplicate)" in again.stdout


def test_a_long_load_shows_progress(tmp_path: Path) -> None:
    config = {
        "name": "prefecture-14",
        "spiffe_id": "spiffe://juki.example/prefecture/14",
        "listen": "127.0.0.1:0",
        "database_url": f"sqlite:///{tmp_path / 'data.db'}",
        "credentials": {"cert_file": "c", "key_file": "k", "trust_bundle": "b"},
        "keyring_file": str(tmp_path / "keys.json"),
        "key_directory": str(tmp_path / "keys"),
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    done = _run("load", "--config", str(path), "--prefecture", "14", "--count", "12000")
    assert done.returncode == 0, done.stderr
    progress = re.findall(r"(\d+)/12000 written", done.stderr)
    assert len(progress) >= 2 and progress[-1] == "12000"
    assert "loaded 12000 residents" in done.stdout


def test_consistency_finds_a_row_deleted_by_hand_repairs_it_and_then_finds_none(
    described: str, network: LocalNetwork
) -> None:
    """The operator's way through 整合性確認: one difference, repaired, then none."""
    born = synthetic.birth("141003", random.Random(4242))
    clients.submit_change(network.info, born)
    code = born.record.juminhyo_code
    wait_for(lambda: versions(network, "national", code))
    plant.delete_persons(network, "prefecture-14", [code])
    first = _run("consistency", "--network", described, "--municipality", "141003")
    assert first.returncode == 0, first.stderr
    resident = [line for line in first.stdout.splitlines() if "prefecture/14" in line]
    assert len(resident) == 1 and "missing above 1; repaired 1 (1 delivered)" in resident[0]
    assert code not in first.stdout + first.stderr
    assert versions(network, "prefecture-14", code)
    second = _run("consistency", "--network", described, "--municipality", "141003")
    assert second.returncode == 0, second.stderr
    lines = second.stdout.splitlines()
    assert len(lines) == 4 and all(line.endswith("consistent") for line in lines), lines
