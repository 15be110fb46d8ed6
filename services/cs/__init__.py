"""市町村CS: the municipality's communication server."""

from services.cs.server import SPEC

__all__ = ["SPEC"]
