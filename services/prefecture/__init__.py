"""都道府県サーバ: the prefecture server."""

from services.prefecture.server import SPEC

__all__ = ["SPEC"]
