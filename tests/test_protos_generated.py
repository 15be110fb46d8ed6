"""The committed stubs in juki/ are exactly what protos/ generates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _stubs(folder: Path) -> list[Path]:
    """The generated stub files below `folder` (not the bytecode Python caches beside them)."""
    return [p for p in folder.rglob("*_pb2*.py*") if p.suffix in (".py", ".pyi")]


def test_regenerating_the_stubs_changes_nothing(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = {p.relative_to(tmp_path): p.read_bytes() for p in _stubs(tmp_path)}
    committed = {p.relative_to(ROOT): p.read_bytes() for p in _stubs(ROOT / "juki")}
    assert generated, "protoc produced nothing"
    assert sorted(generated) == sorted(committed), (
        "stub files added or missing: run scripts/gen_protos.py"
    )
    stale = [str(p) for p in generated if generated[p] != committed[p]]
    assert not stale, f"stale stubs (run scripts/gen_protos.py): {stale}"


def test_every_proto_element_has_a_leading_comment() -> None:
    """Services, RPCs, messages, fields and enum values are all documented (buf-lint style)."""
    import importlib

    from google.protobuf import descriptor_pb2

    undocumented: list[str] = []
    modules = [
        importlib.import_module(f"juki.v1.{p.stem}_pb2")
        for p in sorted((ROOT / "protos" / "juki" / "v1").glob("*.proto"))
    ]
    for module in modules:
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        # Generated descriptors drop source info; parse the comments from the .proto text instead.
        text = (ROOT / "protos" / module.DESCRIPTOR.name).read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(text):
            stripped = line.strip()
            declares = stripped.startswith(("message ", "service ", "rpc ", "enum ")) or (
                stripped.endswith(";")
                and "=" in stripped
                and not stripped.startswith(("option", "//"))
            )
            if declares and not text[i - 1].strip().startswith("//"):
                undocumented.append(f"{module.DESCRIPTOR.name}:{i + 1}: {stripped}")
        for enum in proto.enum_type:
            assert enum.value[0].name.endswith("_UNSPECIFIED"), enum.name
        for service in proto.service:
            assert service.name.endswith("Service")
            for method in service.method:
                assert method.input_type.endswith(f".{method.name}Request"), method.name
                assert method.output_type.endswith(f".{method.name}Response"), method.name
    assert not undocumented, "\n".join(undocumented)


def test_every_refusal_reason_is_in_the_protos() -> None:
    """protos/juki/v1/error_reason.proto is what scripts/gen_reasons.py makes of the reasons
    now: no reason the code refuses with is missing from the contract, numbers kept."""
    from juki.v1 import error_reason_pb2
    from jukinet.core.errors import status_code_of
    from jukinet.core.reasons import Reason

    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_reasons.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    in_protos = set(error_reason_pb2.ErrorReason.keys()) - {"ERROR_REASON_UNSPECIFIED"}
    assert in_protos == {reason.value for reason in Reason}
    text = (ROOT / "protos" / "juki" / "v1" / "error_reason.proto").read_text(encoding="utf-8")
    assert f"// {status_code_of(Reason.WRONG_MUNICIPALITY).name}: " in text
