"""全国サーバ: the national server run by J-LIS."""

from services.national.server import SPEC

__all__ = ["SPEC"]
