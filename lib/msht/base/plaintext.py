"""Text as a person reads it: Unicode format characters removed, compatibility forms folded.

Police exports carry characters that print as nothing or as an ordinary letter but compare as
different text: the zero-width space U+200B, the byte-order mark U+FEFF (a "zero-width no-break
space" inside a field), the soft hyphen U+00AD, the word joiner U+2060, bidirectional marks, and
compatibility forms such as full-width letters or the no-break space U+00A0. Every comparison
and every coding in this project starts from :func:`plain` (one value) or :func:`plain_series`
(a column), so that ``"Female\\u200b"``, ``"Viet\\u00adnam"`` and ``"Ｆｅｍａｌｅ"`` code as
``"Female"``, ``"Vietnam"`` and ``"Female"``.

* **Format characters** are every code point of Unicode general category ``Cf`` (as Python's
  :mod:`unicodedata` knows them), removed wherever they are in the value.
* **Compatibility forms** are folded with Unicode normalisation form NFKC.

:func:`show_invisible` does the opposite for reports: it writes each invisible character of a
value as ``[U+200B]`` so that an analyst can see why two spellings that look alike differ.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import pandas as pd

__all__ = ["format_characters", "plain", "plain_series", "show_invisible", "has_invisible"]


#: Code points that can hold format, separator or control characters: planes 0 and 1 and the
#: tag block of plane 14 (Unicode assigns none of these categories elsewhere; a test checks it).
_PLANES = (range(0x0, 0x20000), range(0xE0000, 0xE1000))


def _scan(*categories: str) -> list[int]:
    return [c for r in _PLANES for c in r if unicodedata.category(chr(c)) in categories]


@lru_cache(maxsize=1)
def format_characters() -> str:
    """Every code point of Unicode general category ``Cf`` (format), as one string (about 170)."""
    return "".join(chr(c) for c in _scan("Cf"))


@lru_cache(maxsize=1)
def _format_re() -> re.Pattern[str]:
    return re.compile("[" + re.escape(format_characters()) + "]")


@lru_cache(maxsize=1)
def _invisible_re() -> re.Pattern[str]:
    """Characters :func:`show_invisible` escapes: format (Cf), control (Cc) other than tab and
    line breaks, line/paragraph separators (Zl, Zp) and every space separator (Zs) but U+0020."""
    chars = [chr(c) for c in _scan("Cf", "Zl", "Zp", "Zs", "Cc") if chr(c) not in " \t\n\r"]
    return re.compile("[" + re.escape("".join(chars)) + "]")


def plain(text: str) -> str:
    """``text`` with every format character (Cf) removed, then NFKC-normalised.

    >>> plain("Viet\\u00adnam"), plain("\\ufeffFemale\\u200b"), plain("Ｍａｌｅ")
    ('Vietnam', 'Female', 'Male')
    """
    out = unicodedata.normalize("NFKC", _format_re().sub("", text))
    return _format_re().sub("", out)


def plain_series(s: pd.Series) -> pd.Series:
    """:func:`plain` on every value of a column; returns the pandas ``string`` dtype (missing
    stays missing, other dtypes are turned into their ``str`` first). Values that are pure ASCII
    are left as they are (they can hold neither), so the cost is paid by the few others only."""
    text = s.astype("string")
    if not len(text):
        return text
    other = text.str.contains(r"[^\x00-\x7f]", regex=True, na=False).astype(bool)
    if not other.any():
        return text
    out = text.copy()
    out[other] = text[other].map(plain, na_action="ignore").astype("string")
    return out


def has_invisible(text: str) -> bool:
    """Whether ``text`` holds a character :func:`show_invisible` would escape."""
    return _invisible_re().search(text) is not None


def show_invisible(text: str) -> str:
    """``text`` with each invisible character written as ``[U+XXXX]``, for reports.

    Square brackets, not R's ``<U+XXXX>``: a ``<`` before a letter has to stay ``&lt;`` in an
    HTML table, and Quarto's CSS inlining (juice) escapes it a second time for PDF and Word,
    which then print ``&lt;U+200B>``; brackets read the same in every format.

    >>> show_invisible("Female\\u200b"), show_invisible("Albania\\u00a0")
    ('Female[U+200B]', 'Albania[U+00A0]')
    """
    return _invisible_re().sub(lambda m: f"[U+{ord(m.group()):04X}]", text)
