"""清音化かな: the name kana normalised for search.

Searches by name must find ガ as カ, ッ as ツ, ﾔﾏﾀﾞ as ヤマタ and やまだ as
ヤマタ, because spellings of voiced marks and small kana vary between
registers and inquirers. `seion` is the one function that derives the search
form, in this order:

1. NFKC (half-width katakana and full-width Latin become their standard forms);
2. hiragana to katakana (jaconv);
3. voiced and semi-voiced marks removed (NFD, drop U+3099/U+309A, NFC): ガ→カ, パ→ハ, ヴ→ウ;
4. small kana made large: ァィゥェォッャュョヮヵヶ → アイウエオツヤユヨワカケ;
5. spaces removed (the boundary between family and given name is not searched on).
"""

from __future__ import annotations

import unicodedata

import jaconv

_MARKS = {"\u3099", "\u309a"}
_SMALL_TO_LARGE = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")


def seion(kana: str) -> str:
    """The 清音化かな of `kana` (steps 1-5 of the module docstring)."""
    text = unicodedata.normalize("NFKC", kana)
    text = jaconv.hira2kata(text)
    decomposed = unicodedata.normalize("NFD", text)
    text = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _MARKS))
    text = text.translate(_SMALL_TO_LARGE)
    return "".join(text.split())
