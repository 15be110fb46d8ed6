"""MyNumberLinkService: the prefecture side of the narrow link (provision/link.py decides)."""

from __future__ import annotations

import grpc

from juki.v1 import my_number_link_service_pb2 as pb
from juki.v1 import my_number_link_service_pb2_grpc as pb_grpc
from jukinet.provision.link import LinkAnswerer
from jukinet.trust.authz import current_caller


class MyNumberLinkServicer(pb_grpc.MyNumberLinkServiceServicer):
    """GetMyNumberForEmigrant: one emigrant's My Number to this prefecture's fuhyo server."""

    def __init__(self, answerer: LinkAnswerer) -> None:
        self._answerer = answerer

    def GetMyNumberForEmigrant(
        self, request: pb.GetMyNumberForEmigrantRequest, context: grpc.ServicerContext
    ) -> pb.GetMyNumberForEmigrantResponse:
        envelope = self._answerer.answer(request.envelope, current_caller())
        return pb.GetMyNumberForEmigrantResponse(envelope=envelope)
