"""Narrow-link requests as a fuhyo server sends them, with the query its organ signed."""

from __future__ import annotations

import datetime as dt
import ssl
import uuid

from juki.v1 import my_number_link_service_pb2 as pb
from juki.v1 import provision_service_pb2 as provision_pb
from jukinet.core.clock import SYSTEM
from jukinet.core.network import NetworkDescription
from jukinet.provision import organ_query

TAX_OFFICE = "spiffe://juki.example/organ/14/tax-office"
TAX_OFFICE_CLIENT = "organ-14-tax-office"
TAX_TASK = "fuhyo5-prefectural-tax"


def link_request(
    network: NetworkDescription,
    code: str,
    task: str = TAX_TASK,
    organ: str = TAX_OFFICE,
    *,
    signed_at: dt.datetime | None = None,
    asked_code: str | None = None,
    four: provision_pb.FourInformation | None = None,
    audience: str = "spiffe://juki.example/fuhyo/14",
) -> pb.MyNumberLinkRequest:
    """A link request for `code` with the query the tax office signed (its own key, for
    `audience`, at `signed_at` or now) and its certificate; another organ signs nothing here.
    `asked_code` or `four`: the person the organ's query names, if not `code`."""
    request_id = str(uuid.uuid4())
    link = pb.MyNumberLinkRequest(
        juminhyo_code=code, task_id=task, organ=organ, request_id=request_id
    )
    if organ == TAX_OFFICE:
        client = network.client(TAX_OFFICE_CLIENT)
        query = provision_pb.ResidentQuery(
            task_id=task,
            request_id=request_id,
            operator_id="clerk-7",
        )
        if four is not None:
            query.four_information.CopyFrom(four)
        else:
            query.juminhyo_code = asked_code or code
        link.organ_query.CopyFrom(
            organ_query.sign_with_pem(
                query,
                audience=audience,
                key_pem=client.key.read_bytes(),
                at=signed_at or SYSTEM.now(),
            )
        )
        link.organ_certificate = ssl.PEM_cert_to_DER_cert(client.cert.read_text())
    return link
