"""A network of hosts: the README's "Running nodes on separate hosts", scripted.

The CA's signing service, national, prefecture-14, fuhyo-14, cs-141003 and the
clients each run on their own host — a network namespace with its own address,
loopback down (tests/helpers/hosts.py). Every node is provisioned only with
the operator commands (`juki-net node init` on the node's host; `pki sign`,
`pki sign-keys` on the CA's), has a folder of its own (nothing shared but the
requests and certificates the test hands over, as an operator would), keeps
its trust material fresh from the node above it, and renews its own
certificate. Then: a birth reaches national; an emigrant's My Number crosses
the narrow link fuhyo-14 → prefecture-14; a CRL update propagates; the
prefecture's process, killed with SIGKILL while changes stream in, is
restarted by its supervisor and every change arrives once; and after 48
simulated hours every node still answers, its certificate renewed by itself
several times and the CRLs re-signed.

The simulated hours are an injected clock for every process of the network
at once: libfaketime (Debian's faketime package) reads the time offset from
one file the test moves forward, so the CA, the nodes, their TLS stack and
the clients all see the same time; durations (timeouts) stay real.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from google.protobuf import json_format
from sqlalchemy import create_engine, func, select

from juki.v1 import common_pb2, envelope_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.dev import synthetic
from jukinet.dev.supervisor import Supervisor
from jukinet.sealing.keys import NodeKeyring
from jukinet.storage.schema import (
    fuhyo_versions,
    received_changes,
    resident_versions,
    witnessed_logs,
)
from jukinet.trust import pki
from tests.helpers.hosts import Host, hosts, require_namespaces
from tests.helpers.network import wait_for
from tests.helpers.readme import host_walkthrough, options, subcommand

DOMAIN = "spiffe://juki.example"
PORT = "7001"
SIGNING_PORT = "7100"
# node name -> (role, code, hops: (option, peer host))
NODES = {
    "national": ("national", "", (("--witness-hop", "prefecture-14"),)),
    "prefecture-14": ("prefecture", "14", (("--next-hop", "national"),)),
    "fuhyo-14": (
        "fuhyo",
        "14",
        (("--next-hop", "national"), ("--link-hop", "prefecture-14")),
    ),
    "cs-141003": (
        "cs",
        "141003",
        (("--next-hop", "prefecture-14"), ("--fuhyo-hop", "fuhyo-14")),
    ),
}
CLIENTS = {
    "register-141003": f"{DOMAIN}/register/141003",
    "operator": f"{DOMAIN}/operator/14/admin-1",
    "operator-2": f"{DOMAIN}/operator/14/admin-2",
    # A third administrator: the operator's own grant is approved by neither it nor its granter.
    "operator-3": f"{DOMAIN}/operator/14/admin-3",
    "organ-14-tax-office": f"{DOMAIN}/organ/14/tax-office",
}
REFRESH_S = "1"
CHECK_S = "1"
# Nodes and clients alike renew themselves at half-life.
CLIENT_HOURS = "24"
# The README's hosts, as the test's.
README_HOSTS = {
    "ca": "ca",
    "national": "national",
    "prefecture": "prefecture-14",
    "cs": "cs-141003",
    "client": "clients",
}
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")


@dataclass
class Walkthrough:
    """The provisioned network: its hosts, folders and processes."""

    root: Path
    hosts: dict[str, Host]
    supervisor: Supervisor
    clock_env: dict[str, str]  # the injected clock every process runs with ({} without it)
    ran: list[tuple[str, list[str]]] = field(default_factory=list)  # (host, juki-net argv)

    def juki(self, host: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `juki-net ARGS` on `host` (in its folder of the test's root)."""
        self.ran.append((host, list(args)))
        done = subprocess.run(
            [*self.hosts[host].prefix(), sys.executable, "-m", "jukinet.cli", *args],
            cwd=self.root,
            env={**os.environ, **self.clock_env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"{host}: juki-net {' '.join(args)}\n{done.stderr}"
        return done

    def advance(self, hours: float) -> dt.datetime:
        """Move every process's clock to `hours` after the real time; the time they see."""
        (self.root / "clock").write_text(f"+{int(hours * 3600)}\n", encoding="utf-8")
        return dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)

    def address(self, host: str, port: str = PORT) -> str:
        return f"{self.hosts[host].address}:{port}"

    def network(self) -> str:
        return str(self.root / "clients" / "network.json")

    def count(self, node: str, table: object, *where: object) -> int:
        """Rows of a node's database (read from its own folder)."""
        engine = create_engine(f"sqlite:///file:{self.root / node / 'data.db'}?mode=ro&uri=true")
        with engine.connect() as conn:
            statement = select(func.count()).select_from(table)  # type: ignore[arg-type]
            n = conn.execute(statement.where(*where)).scalar_one()
        engine.dispose()
        return int(n)


def _handover(source: Path, target: Path) -> None:
    """What an operator sends by mail or courier: one file, copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _provision(w: Walkthrough) -> None:
    ca = w.root / "ca-host"
    w.juki("ca", "pki", "init-ca", "--dir", str(ca / "pki"), "--crl-hours", "24")
    bundle = ca / "pki" / "bundle.pem"
    signing = w.address("ca", SIGNING_PORT)
    w.juki(
        "ca", "node", "init", "--dir", str(ca / "service"), "--role", "ca",
        "--listen", signing, "--advertise", w.hosts["ca"].address,
        "--ca-folder", str(ca / "pki"), "--bundle", str(bundle), "--renewal-check-s", CHECK_S,
    )  # fmt: skip
    w.juki(
        "ca", "pki", "sign", "--pki-dir", str(ca / "pki"), "--csr", str(ca / "service/node.csr"),
        "--expect", f"{DOMAIN}/ca", "--out", str(ca / "service/node.crt"), "--yes",
    )  # fmt: skip
    for name, (role, code, hops) in NODES.items():
        folder = w.root / name
        _handover(bundle, w.root / "inbox" / name / "bundle.pem")
        options = [o for option, peer in hops for o in (option, w.address(peer))]
        if role == "national":  # J-LIS runs the CA: its publication folder is on its host
            options += ["--trust-source", str(ca / "pki" / "published")]
            options += ["--witness-prefecture", "14"]
        w.juki(
            name, "node", "init", "--dir", str(folder), "--role", role, "--code", code,
            "--listen", w.address(name), "--advertise", w.hosts[name].address,
            "--signing-service", signing, "--bundle", str(w.root / "inbox" / name / "bundle.pem"),
            "--trust-refresh-s", REFRESH_S, "--renewal-check-s", CHECK_S, *options,
            "--administrator", CLIENTS["operator"], "--administrator", CLIENTS["operator-2"],
            "--administrator", CLIENTS["operator-3"],
        )  # fmt: skip
        inbox = ca / "inbox" / name
        _handover(folder / "node.csr", inbox / "node.csr")
        w.juki(
            "ca", "pki", "sign", "--pki-dir", str(ca / "pki"), "--csr", str(inbox / "node.csr"),
            "--expect", _spiffe_id(name), "--out", str(inbox / "node.crt"), "--hours", "24",
            "--yes",
        )  # fmt: skip
        _sign_keys(w, name)
        _handover(inbox / "node.crt", folder / "node.crt")
    clients = w.root / "clients"
    for stem, spiffe_id in CLIENTS.items():
        w.juki("clients", "pki", "request", "--spiffe-id", spiffe_id, "--out", str(clients),
               "--stem", stem)  # fmt: skip
        _handover(clients / f"{stem}.csr", ca / "inbox" / f"{stem}.csr")
        w.juki(
            "ca", "pki", "sign", "--pki-dir", str(ca / "pki"),
            "--csr", str(ca / "inbox" / f"{stem}.csr"), "--expect", spiffe_id,
            "--out", str(clients / f"{stem}.crt"), "--hours", CLIENT_HOURS, "--yes",
        )  # fmt: skip
    _handover(bundle, clients / "bundle.pem")
    configs = [a for name in NODES for a in ("--config", str(w.root / name / "config.toml"))]
    w.juki(
        "clients", "network", "describe", *configs, "--bundle", str(clients / "bundle.pem"),
        *[a for stem in CLIENTS for a in ("--client", f"{stem}={clients / stem}")],
        "--signing-service", signing, "--out", w.network(),
    )  # fmt: skip


def _spiffe_id(name: str) -> str:
    role, code, _ = NODES[name]
    return f"{DOMAIN}/{role}/{code}" if code else f"{DOMAIN}/{role}"


def _sign_keys(w: Walkthrough, name: str) -> None:
    """The node's key-document request to the CA operator, signed and published there."""
    request = w.root / "ca-host" / "inbox" / name / "key-document.request"
    _handover(w.root / name / "key-document.request", request)
    w.juki(
        "ca", "pki", "sign-keys", "--pki-dir", str(w.root / "ca-host" / "pki"),
        "--request", str(request), "--expect", _spiffe_id(name),
    )  # fmt: skip


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walkthrough]:
    require_namespaces()
    root = tmp_path_factory.mktemp("hosts")
    clock_env: dict[str, str] = {}
    if LIBFAKETIME.exists():
        (root / "clock").write_text("+0\n", encoding="utf-8")
        clock_env = {
            "LD_PRELOAD": str(LIBFAKETIME),
            "FAKETIME_TIMESTAMP_FILE": str(root / "clock"),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }
    with hosts(["ca", *NODES, "clients"]) as machines:
        w = Walkthrough(root, machines, Supervisor(restart=True), clock_env)
        _provision(w)
        folders = {"ca": root / "ca-host" / "service"} | {name: root / name for name in NODES}
        for name, folder in folders.items():
            w.ran.append((name, ["serve", "--config", str(folder / "config.toml")]))
            w.supervisor.start(
                name,
                folder / "config.toml",
                folder / "node.log",
                machines[name].prefix(),
                clock_env,
            )
        try:
            granted: set[str] = set()
            wait_for(lambda: _status_granted(w, granted), timeout=90, interval=1.0)
            wait_for(lambda: _all_serving(w), timeout=90, interval=1.0)
            yield w
        finally:
            w.supervisor.stop_all(["cs-141003", "fuhyo-14", "prefecture-14", "national", "ca"])


def _status_granted(w: Walkthrough, granted: set[str]) -> bool:
    """The operator gets the status right on each node that answers: operator-2 grants, the
    operator (the other administrator) approves."""
    for name in NODES:
        if name in granted:
            continue
        done = w.juki(
            "clients", "access", "grant", "--network", w.network(), "--node", name,
            "--operator", "operator", "--rights", "status,logs", "--as", "operator-2",
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            return False
        w.juki(
            "clients", "access", "approve", "--network", w.network(), "--node", name,
            "--grant", done.stdout.split()[0], "--as", "operator-3",
        )  # fmt: skip
        granted.add(name)
    return True


def _all_serving(w: Walkthrough) -> bool:
    """Every node answers the operator, with trust material of its own."""
    done = w.juki("clients", "status", "--network", w.network(), check=False)
    return done.returncode == 0


def _submit(w: Walkthrough, message: object, *flags: str) -> None:
    path = w.root / "clients" / f"{random.getrandbits(64):x}.json"
    path.write_text(json_format.MessageToJson(message), encoding="utf-8")  # type: ignore[arg-type]
    w.juki("clients", "submit", "--network", w.network(), str(path), *flags)


def test_a_birth_crosses_the_hosts(walkthrough: Walkthrough) -> None:
    w = walkthrough
    born = synthetic.birth("141003", random.Random(1))
    _submit(w, born)
    code = born.record.juminhyo_code
    wait_for(
        lambda: w.count("national", resident_versions, resident_versions.c.juminhyo_code == code)
    )

    # Every node answers its status (a node busy past the 5 s status deadline on a loaded
    # machine is asked again, as an operator would).
    def answered() -> subprocess.CompletedProcess[str] | None:
        run = w.juki("clients", "status", "--network", w.network(), check=False)
        return run if run.returncode == 0 else None

    done = wait_for(answered)
    assert all(name in done.stdout for name in NODES)


def _emigrants_my_number_crosses(w: Walkthrough, seed: int) -> None:
    """An emigrant entered at the CS and the fuhyo server; the organ asks the fuhyo server
    for the person, and the My Number comes over the narrow link from prefecture-14."""
    rng = random.Random(seed)
    born = synthetic.birth("141003", rng)
    left = synthetic.follow(born, common_pb2.CHANGE_REASON_EMIGRATION, rng=rng)
    entry = synthetic.fuhyo_entry(born, rng)
    abroad = synthetic.fuhyo_follow(entry, fuhyo_pb.FUHYO_NOTICE_KIND_EMIGRATION, rng)
    for change in (born, left):
        _submit(w, change)
    for change in (entry, abroad):
        _submit(w, change, "--fuhyo")
    code = born.record.juminhyo_code
    wait_for(
        lambda: (
            w.count("prefecture-14", resident_versions, resident_versions.c.juminhyo_code == code)
            == 2
            # …and the fuhyo server shows the emigration (the link is for an emigrant only)
            and w.count("fuhyo-14", fuhyo_versions, fuhyo_versions.c.juminhyo_code == code) == 2
        )
    )

    def asked() -> dict[str, object] | None:
        done = w.juki(
            "clients", "query", "--network", w.network(), "--as", "organ-14-tax-office",
            "--task", "fuhyo5-prefectural-tax", "--fuhyo", "--code", code, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            return None
        answer: dict[str, object] = json.loads(done.stdout)
        return answer if answer.get("records") else None

    answer = wait_for(asked, timeout=30, interval=1.0)
    (record,) = answer["records"]  # type: ignore[misc]
    assert record["my_number"] == born.record.my_number  # type: ignore[index]


def test_an_emigrants_my_number_crosses_the_narrow_link(walkthrough: Walkthrough) -> None:
    _emigrants_my_number_crosses(walkthrough, 2)


def test_nationals_checkpoints_are_witnessed_by_its_prefecture(walkthrough: Walkthrough) -> None:
    w = walkthrough
    done = w.juki("clients", "audit", "checkpoint", "--network", w.network(), "--node", "national")
    assert done.stdout.count("witnessed") == 2 and "NOT witnessed" not in done.stdout
    # The witness is the prefecture named by `node init --witness-hop`: it holds national's
    # checkpoints in its own database.
    national = witnessed_logs.c.origin.contains("/national")
    assert w.count("prefecture-14", witnessed_logs, national) == 2


def test_a_crl_update_propagates(walkthrough: Walkthrough) -> None:
    w = walkthrough
    # A revocation at the CA reaches the CS through national and the prefecture.
    w.juki(
        "ca", "pki", "revoke", "--pki-dir", str(w.root / "ca-host/pki"),
        "--cert", str(w.root / "clients/operator-2.crt"),
    )  # fmt: skip

    def refused_at_the_cs() -> bool:
        done = w.juki(
            "clients", "status", "--network", w.network(), "--operator", "operator-2", check=False
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("cs-141003")]
        return bool(lines) and "CERTIFICATE_REVOKED" in lines[0]

    wait_for(refused_at_the_cs, timeout=30, interval=1.0)


def test_a_killed_prefecture_is_restarted_and_every_change_arrives_once(
    walkthrough: Walkthrough,
) -> None:
    w = walkthrough
    rng = random.Random(4)
    births = [synthetic.birth("141003", rng) for _ in range(60)]
    before = w.count("national", received_changes)
    script = w.root / "clients" / "stream.py"
    batch_file = w.root / "clients" / "births.json"
    batch_file.write_text(
        json.dumps([json_format.MessageToJson(b) for b in births]), encoding="utf-8"
    )
    script.write_text(
        "import json, sys, threading\n"
        "from google.protobuf import json_format\n"
        "from juki.v1 import common_pb2\n"
        "from jukinet.client import calls\n"
        "from jukinet.core.network import NetworkDescription\n"
        "network = NetworkDescription.load(__import__('pathlib').Path(sys.argv[1]))\n"
        "for text in json.loads(open(sys.argv[2]).read()):\n"
        "    calls.submit_change(network, json_format.Parse(text, common_pb2.Change()))\n"
        # Not time.sleep: libfaketime 0.9.10 refuses its clock_nanosleep when the monotonic
        # clock is left real (EINVAL); an event's timed wait is unaffected.
        "    threading.Event().wait(0.05)\n",
        encoding="utf-8",
    )
    stream = subprocess.Popen(
        [*w.hosts["clients"].prefix(), sys.executable, str(script), w.network(), str(batch_file)],
        cwd=w.root,
        env={
            **os.environ,
            **w.clock_env,
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        },
    )
    time.sleep(1.0)
    pid = w.supervisor.pid("prefecture-14")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert stream.wait(timeout=120) == 0
    wait_for(lambda: w.supervisor.restarts("prefecture-14") >= 1, timeout=30)
    wait_for(lambda: w.count("national", received_changes) >= before + len(births), timeout=90)
    for birth in births:
        code = birth.record.juminhyo_code
        assert (
            w.count("national", resident_versions, resident_versions.c.juminhyo_code == code) == 1
        )
        assert w.count("prefecture-14", received_changes,
                       received_changes.c.change_id == birth.change_id) == 1  # fmt: skip
    assert w.count("national", received_changes) == before + len(births)


def _published_key_ids(keydoc: Path) -> set[str]:
    """The key ids a node's copy of a key document lists (empty until it has one)."""
    if not keydoc.exists():
        return set()
    signed = envelope_pb2.SignedKeyDocument.FromString(keydoc.read_bytes())
    document = envelope_pb2.KeyDocument.FromString(signed.document)
    return {k.key_id for k in document.keys}


def test_a_node_on_its_own_host_rotates_its_sealing_keys(walkthrough: Walkthrough) -> None:
    """prefecture-14's new keys are published first and used an hour later; once the old
    ones are retired the narrow link (sealed to, and signed by, prefecture-14) still works."""
    w = walkthrough
    if not w.clock_env:
        pytest.skip("libfaketime (Debian package faketime) is not installed")
    folder = w.root / "prefecture-14"
    ring = NodeKeyring(folder / "sealing-keys.json")
    ring.refresh()
    old = {e.key_id for e in ring.entries if e.use != envelope_pb2.KEY_USE_LOG}
    w.juki("prefecture-14", "node", "rotate-keys", "--dir", str(folder),
           "--activate-in-hours", "1")  # fmt: skip
    _sign_keys(w, "prefecture-14")
    ring.refresh()
    new = {e.key_id for e in ring.entries if e.use != envelope_pb2.KEY_USE_LOG} - old
    assert len(new) == 2
    # The signed document reaches the fuhyo server (through national) before the keys are used.
    at_fuhyo = w.root / "fuhyo-14" / "trust" / "keys" / "prefecture-14.keydoc"
    wait_for(lambda: new <= _published_key_ids(at_fuhyo), timeout=30, interval=0.5)
    _emigrants_my_number_crosses(w, 10)  # still on the old keys
    w.advance(1.5)
    _emigrants_my_number_crosses(w, 11)  # on the new ones
    w.juki("prefecture-14", "node", "retire-keys", "--dir", str(folder))
    _sign_keys(w, "prefecture-14")
    wait_for(lambda: not old & _published_key_ids(at_fuhyo), timeout=30, interval=0.5)
    ring.refresh()
    assert not old & {e.key_id for e in ring.entries}
    _emigrants_my_number_crosses(w, 12)  # the old private keys are gone: only new ones work


# Clients the test keeps using through the simulated hours (operator-2 is revoked by then).
RENEWED_BY_TIMER = ("register-141003", "organ-14-tax-office")


def _client_certificates(w: Walkthrough) -> dict[str, x509.Certificate]:
    names = ("operator", *RENEWED_BY_TIMER)
    return {name: pki.load_certificate(w.root / "clients" / f"{name}.crt") for name in names}


def _certificates(w: Walkthrough) -> dict[str, x509.Certificate]:
    folders = {"ca": w.root / "ca-host" / "service"} | {name: w.root / name for name in NODES}
    return {name: pki.load_certificate(folder / "node.crt") for name, folder in folders.items()}


def test_after_48_simulated_hours_every_node_answers_renewed_by_itself(
    walkthrough: Walkthrough,
) -> None:
    w = walkthrough
    if not w.clock_env:
        pytest.skip("libfaketime (Debian package faketime) is not installed")
    serials = {name: {c.serial_number} for name, c in _certificates(w).items()}
    clients = {name: {c.serial_number} for name, c in _client_certificates(w).items()}
    crl = w.root / "prefecture-14" / "trust" / "crl.pem"
    crl_updates = {pki.load_crls(crl.read_bytes())[0].last_update_utc}
    for hours in range(6, 49, 6):
        now = w.advance(hours)

        def renewed_where_due(now: dt.datetime = now) -> bool:
            return not any(pki.past_half_life(c, now) for c in _certificates(w).values())

        # Every node renews its certificate by itself once past half-life, and the CRLs the
        # CA re-signs at half their validity reach the prefecture through national.
        def crl_resigned_where_due(now: dt.datetime = now) -> bool:
            return not pki.crl_past_half_life(pki.load_crls(crl.read_bytes())[0], now)

        wait_for(renewed_where_due, timeout=60, interval=0.5)
        wait_for(crl_resigned_where_due, timeout=60, interval=0.5)
        for name, cert in _certificates(w).items():
            serials[name].add(cert.serial_number)
        # The operator renews by itself when it connects (status, below); the register system
        # and the organ, which may not connect for a day, by the command a timer would run.
        for name in RENEWED_BY_TIMER:
            w.juki("clients", "pki", "renew-client", "--network", w.network(), "--as", name)
        wait_for(lambda: _all_serving(w), timeout=60, interval=1.0)
        for name, cert in _client_certificates(w).items():
            clients[name].add(cert.serial_number)
        crl_updates.add(pki.load_crls(crl.read_bytes())[0].last_update_utc)
    assert all(len(s) >= 4 for s in serials.values()), serials  # renewed every ~12 h
    assert all(len(s) >= 4 for s in clients.values()), clients
    assert len(crl_updates) >= 5  # the first, and one every 12 h
    born = synthetic.birth("141003", random.Random(48))
    _submit(w, born)
    code = born.record.juminhyo_code
    wait_for(
        lambda: w.count("national", resident_versions, resident_versions.c.juminhyo_code == code)
    )


def test_the_readme_walkthrough_is_what_ran(walkthrough: Walkthrough) -> None:
    """Every command of the README's "Running nodes on separate hosts" ran here, on the same
    kind of host, with at least the options the README shows (values are the test's own)."""
    if not LIBFAKETIME.exists():  # renewal and key rotation ran in the tests skipped without it
        pytest.skip("libfaketime (Debian package faketime) is not installed")
    missing = []
    for host, argv in host_walkthrough():
        here = README_HOSTS[host]
        if not any(
            ran_host == here
            and subcommand(ran) == subcommand(argv)
            and options(argv) <= options(ran)
            for ran_host, ran in walkthrough.ran
        ):
            missing.append(f"{host}$ juki-net {' '.join(argv)}")
    assert missing == [], "README commands the walk-through did not run:\n" + "\n".join(missing)
