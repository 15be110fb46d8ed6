"""The network CA's signing service: certificate renewal for every identity it approved."""

from services.ca.server import SPEC

__all__ = ["SPEC"]
