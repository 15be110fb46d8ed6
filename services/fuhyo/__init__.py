"""附票都道府県サーバ: the fuhyo prefecture server.

For now it runs as a full node of the network (mTLS, policy, health,
reflection, operator status) without fuhyo-record RPCs; the fuhyo records and
the narrow My Number link are issue #6.
"""

from services.fuhyo.server import SPEC

__all__ = ["SPEC"]
