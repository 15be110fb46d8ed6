"""Regenerate the Python stubs of protos/ into the `juki` package.

Usage: python scripts/gen_protos.py [--out DIR]

The stubs (and mypy-protobuf .pyi files) are committed so that installing
juki-net needs no code generator; tests/test_protos_generated.py regenerates
them into a temporary folder and fails if anything differs.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"


def generate(out: Path) -> None:
    """Run protoc over every .proto of juki-net's own below protos/juki, writing into `out`
    (protos/google and protos/grpc are shipped for other languages' clients; Python has
    them from googleapis-common-protos and grpcio-health-checking)."""
    files = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "juki").rglob("*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    # The mypy-protobuf plugins are installed beside this interpreter.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package_dir in {(out / f).parent for f in files}:
        # Generated folders are plain packages so mypy and setuptools find them.
        d = package_dir
        while d != out:
            (d / "__init__.py").touch()
            d = d.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT)
    args = parser.parse_args()
    generate(args.out)


if __name__ == "__main__":
    sys.exit(main())
