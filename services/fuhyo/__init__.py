"""附票都道府県サーバ: the fuhyo prefecture server.

It keeps the prefecture's fuhyo file (附票本人確認情報, emigrants included,
no My Number), takes fuhyo changes from the prefecture's CSs and forwards them
to the national fuhyo server, and answers the prefecture's organs; for an
emigrant under a My Number Act task it asks its own prefecture server for the
My Number through the narrow link (MyNumberLinkService) and holds it only in
a temporary store.
"""

from services.fuhyo.server import SPEC

__all__ = ["SPEC"]
