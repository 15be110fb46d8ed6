"""The stable refusal reasons (ErrorInfo.reason) of every juki-net node: the vocabulary clients
branch on. core/errors.py gives each its one status code and message; it re-exports `Reason`.
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """Every reason a juki-net node refuses with (ErrorInfo.reason); the value is the name."""

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[str]) -> str:
        return name

    # A request that is malformed whoever sends it.
    INVALID_FIELD = enum.auto()
    QUERY_TOO_BROAD = enum.auto()
    KEY_MISSING = enum.auto()
    BAD_BATCH_SIZE = enum.auto()
    BULK_HEADER_MISSING = enum.auto()
    BULK_ROW_MISMATCH = enum.auto()
    ENVELOPE_MALFORMED = enum.auto()
    ENVELOPE_TAMPERED = enum.auto()
    # Who is calling.
    NO_NETWORK_IDENTITY = enum.auto()
    CERTIFICATE_REVOKED = enum.auto()
    # What the caller may do.
    CALLER_NOT_ADMITTED = enum.auto()
    ORIGIN_MISMATCH = enum.auto()
    ORGAN_NOT_OF_CALLER = enum.auto()
    TASK_UNKNOWN = enum.auto()
    TASK_NOT_FOR_CALLER = enum.auto()
    KEY_NOT_ALLOWED_FOR_TASK = enum.auto()
    ITEM_NOT_ALLOWED_FOR_TASK = enum.auto()
    MY_NUMBER_NOT_ALLOWED_FOR_TASK = enum.auto()
    ORGAN_PROOF_MISSING = enum.auto()
    ORGAN_PROOF_INVALID = enum.auto()
    ORGAN_PROOF_STALE = enum.auto()
    ORGAN_PROOF_MISMATCH = enum.auto()
    LINK_RATE_EXCEEDED = enum.auto()
    ENVELOPE_SENDER_NOT_PEER = enum.auto()
    ENVELOPE_WRONG_RECIPIENT = enum.auto()
    ENVELOPE_WRONG_METHOD = enum.auto()
    CSR_IDENTITY_MISMATCH = enum.auto()
    COMPARISON_NOT_ALLOWED = enum.auto()
    TOO_MANY_RUNS = enum.auto()
    COSIGNATURE_INVALID = enum.auto()
    CHECKPOINT_NOT_OF_CALLER = enum.auto()
    WITNESS_NOT_NAMED = enum.auto()
    NOT_AN_ADMINISTRATOR = enum.auto()
    NO_ACCESS_GRANT = enum.auto()
    REPAIR_NOT_APPROVED = enum.auto()
    # A resident change that contradicts the stored records (records.lifecycle).
    UNKNOWN_PERSON = enum.auto()
    BIRTH_FOR_EXISTING_CODE = enum.auto()
    STALE_SEQUENCE = enum.auto()
    SEQUENCE_TOO_FAR_AHEAD = enum.auto()
    REMOVAL_OF_REMOVED_PERSON = enum.auto()
    CHANGE_FOR_REMOVED_PERSON = enum.auto()
    MOVE_IN_FOR_CURRENT_RESIDENT = enum.auto()
    ENTRY_FOR_CURRENT_RESIDENT = enum.auto()
    NOT_RESIDENT_HERE = enum.auto()
    TAKE_IN_NOT_ALLOWED = enum.auto()
    MOVE_WITHIN_CHANGES_MORE_THAN_ADDRESS = enum.auto()
    NAME_CHANGE_CHANGES_MORE_THAN_NAME = enum.auto()
    MY_NUMBER_CHANGE_CHANGES_MORE = enum.auto()
    CODE_CHANGE_CHANGES_MORE = enum.auto()
    REMOVAL_CHANGES_THE_RECORD = enum.auto()
    CORRECTION_CHANGES_THE_CODE = enum.auto()
    CODE_ALREADY_IN_USE = enum.auto()
    MY_NUMBER_IN_USE = enum.auto()
    # A fuhyo change that contradicts the fuhyo file (records.fuhyo).
    ENTRY_FOR_PERSON_ON_FILE = enum.auto()
    PERSON_NOT_ON_FILE = enum.auto()
    KEPT_BY_ANOTHER_MUNICIPALITY = enum.auto()
    ALREADY_EMIGRATED = enum.auto()
    EMIGRATION_CHANGES_MORE_THAN_ADDRESS = enum.auto()
    NOT_EMIGRATED = enum.auto()
    STATUS_CHANGE_NOT_ALLOWED = enum.auto()
    # Other state a request does not fit.
    WRONG_MUNICIPALITY = enum.auto()
    BULK_APPROVAL_REQUIRED = enum.auto()
    BULK_ROWS_EXCEEDED = enum.auto()
    PERSON_NOT_EMIGRANT = enum.auto()
    NO_LINK = enum.auto()
    ENVELOPE_UNKNOWN_KEY = enum.auto()
    ENVELOPE_OUTSIDE_TIME_WINDOW = enum.auto()
    IDENTITY_NOT_APPROVED = enum.auto()
    CHECKPOINT_MALFORMED = enum.auto()
    CHECKPOINT_SIZE_MISMATCH = enum.auto()
    LOG_NOT_EXTENDED = enum.auto()
    LOG_FORKED = enum.auto()
    SAME_ADMINISTRATOR = enum.auto()
    APPROVER_RAN_THE_CHECK = enum.auto()
    GRANTEE_APPROVES = enum.auto()
    GRANT_NOT_PENDING = enum.auto()
    # Not there.
    UNKNOWN_CHANGE = enum.auto()
    UNKNOWN_RUN = enum.auto()
    UNKNOWN_GRANT = enum.auto()
    PERSON_NOT_FOUND = enum.auto()
    ENVELOPE_REPLAYED = enum.auto()
    # Cannot be answered now; try again later.
    REVOCATION_LIST_UNAVAILABLE = enum.auto()
    REVOCATION_LIST_STALE = enum.auto()
    NEXT_HOP_UNAVAILABLE = enum.auto()
    NATIONAL_UNAVAILABLE = enum.auto()
    LINK_UNAVAILABLE = enum.auto()
    TRUST_MATERIAL_UNAVAILABLE = enum.auto()
    # Data this node kept and can no longer open.
    AT_REST_MALFORMED = enum.auto()
    AT_REST_KEY_RETIRED = enum.auto()
    AT_REST_TAMPERED = enum.auto()
    # Another node refused with a reason this version does not know.
    PEER_REFUSED = enum.auto()
    # Codes given in a response's reason field, not as a call's refusal (still one status each).
    SEVERAL_MATCHES = enum.auto()
    NOT_OF_THIS_PREFECTURE = enum.auto()
    OUTBOX_BEHIND = enum.auto()

    @classmethod
    def known(cls, text: str) -> Reason:
        """`text` as a Reason; PEER_REFUSED for a reason this version does not know."""
        try:
            return cls(text)
        except ValueError:
            return cls.PEER_REFUSED
