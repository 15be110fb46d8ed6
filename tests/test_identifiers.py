"""Identifier check digits, municipality codes and change validation."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import grpc
import pytest
from stdnum.jp import in_

from juki.v1 import common_pb2
from jukinet.core.errors import RefusedError
from jukinet.dev import synthetic
from jukinet.records import identifiers, validation

TODAY = dt.date(2026, 11, 23)


def test_generated_my_numbers_pass_stdnum_independently() -> None:
    rng = random.Random(7)
    for _ in range(200):
        number = synthetic.my_number(rng)
        assert in_.is_valid(number)
        assert identifiers.is_valid_my_number(number)


def test_my_number_with_wrong_check_digit_is_invalid() -> None:
    number = synthetic.my_number(random.Random(8))
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not identifiers.is_valid_my_number(wrong)
    assert not identifiers.is_valid_my_number("１２３４５６７８９０１８")  # full-width digits


def test_juminhyo_scheme_detects_single_digit_errors() -> None:
    code = synthetic.juminhyo_code(random.Random(9))
    assert identifiers.is_valid_juminhyo_code(code)
    for position in range(11):
        for digit in "0123456789":
            if digit != code[position]:
                mutated = code[:position] + digit + code[position + 1 :]
                # mod 11 with weights 2..7 catches every single-digit substitution
                # except where both check values collapse to 0 (r in {0, 1}).
                if identifiers.is_valid_juminhyo_code(mutated):
                    assert identifiers.mod11_weights_2_to_7(mutated[:-1]) == int(mutated[-1])


def test_juminhyo_scheme_matches_the_my_number_rule() -> None:
    """The documented scheme is the statutory My Number formula, applied to ten digits."""
    rng = random.Random(10)
    for _ in range(100):
        payload = f"{rng.randrange(10**11):011d}"
        assert identifiers.mod11_weights_2_to_7(payload) == int(in_.calc_check_digit(payload))


@pytest.mark.parametrize(
    ("code", "known"),
    [("131016", True), ("141003", True), ("141305", True), ("130001", False), ("999999", False)],
)
def test_municipality_codes_come_from_jis_x_0402(code: str, known: bool) -> None:
    assert identifiers.is_known_municipality(code) is known


def _refusal_field(change: common_pb2.Change) -> str:
    with pytest.raises(RefusedError) as caught:
        validation.check_change(change, TODAY)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return caught.value.metadata["field"]


def test_a_valid_birth_passes() -> None:
    validation.check_change(synthetic.birth("141003", random.Random(11)), TODAY)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: setattr(c, "change_id", "not-a-uuid"), "change_id"),
        (lambda c: setattr(c, "reason", common_pb2.CHANGE_REASON_UNSPECIFIED), "reason"),
        (lambda c: setattr(c.record, "juminhyo_code", "12345678901"), "record.juminhyo_code"),
        (lambda c: setattr(c.record, "name_kana", "やまだ"), "record.name_kana"),
        (lambda c: setattr(c.record, "name_kanji", ""), "record.name_kanji"),
        (lambda c: setattr(c.record, "sex", common_pb2.SEX_UNSPECIFIED), "record.sex"),
        (lambda c: setattr(c.record, "birth_date", "2099-01-01"), "record.birth_date"),
        (lambda c: setattr(c.record, "birth_date", "20200101"), "record.birth_date"),
        (
            lambda c: setattr(c.record.address, "municipality_code", "999999"),
            "record.address.municipality_code",
        ),
        (lambda c: setattr(c, "municipality_code", "130001"), "municipality_code"),
        (lambda c: setattr(c, "change_date", "2001-01-01"), "change_date"),
    ],
)
def test_each_rule_names_its_field(mutate: object, field: str) -> None:
    change = synthetic.birth("141003", random.Random(12))
    mutate(change)  # type: ignore[operator]
    assert _refusal_field(change) == field


def test_is_uuid_admits_exactly_the_canonical_form() -> None:
    # The rule as the standard library states it: the text a UUID prints as.
    rng = random.Random(3)
    samples = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(200)]
    variants = [
        text
        for s in samples[:20]
        for text in (s.upper(), s.replace("-", ""), "{" + s + "}", "urn:uuid:" + s, s + "\n")
    ]
    for text in [*samples, *variants, "", "not-a-uuid", samples[0][:-1] + "g"]:
        try:
            canonical = str(uuid.UUID(text)) == text
        except ValueError:
            canonical = False
        assert validation.is_uuid(text) is canonical
    assert all(validation.is_uuid(s) for s in samples)
