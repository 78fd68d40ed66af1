"""Numbers as the study prints them: percentages rounded half-up, counts with thousands
separators, "% (n)" cells, and the disclosure-control marks of hidden values.

Shared by the analysis (:func:`pct` makes the ``pct`` column of the results) and by everything
that publishes text (tables, prose, figure labels).
"""

from __future__ import annotations

import math

import pandas as pd


def pct(n: int, denominator: int, digits: int = 1) -> float:
    """Return ``100 * n / denominator`` rounded half-up to ``digits`` decimals (NaN if no denominator).

    Half-up (not Python's banker's rounding) matches SPSS and the study's printed tables.
    """
    if denominator <= 0:
        return math.nan
    scale = 10**digits
    return math.floor(100 * n * scale / denominator + 0.5) / scale


def is_missing(value: object) -> bool:
    """True for None, NaN and ``pd.NA`` (a value hidden by disclosure control, or absent)."""
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_count(value: object, display: object = "") -> str:
    """A count as text (``1,234``), or the disclosure-control mark (``display``, else ``"[c]"``)
    when the count is hidden (missing)."""
    if is_missing(value):
        return str(display) if isinstance(display, str) and display else "[c]"
    return f"{int(value):,}"


def fmt_pct_n(n: object, denominator: object, *, digits: int = 1, style: str = "prose", display: object = "") -> str:
    """Format a count with its share: ``"17.2% (n=394)"`` (prose) or ``"17.2 (394)"`` (table).

    A hidden (missing) count shows its disclosure-control mark (``display``, else ``"[c]"``):
    ``"[c]% (n<5)"`` / ``"[c] (<5)"``; a hidden denominator hides the share (``"[c]"``).
    """
    if style not in ("prose", "table"):
        raise ValueError(f"unknown style {style!r}; use 'prose' or 'table'")
    if is_missing(n) or is_missing(denominator):
        number = "[c]"
    else:
        share = pct(int(n), int(denominator), digits)
        number = "-" if math.isnan(share) else f"{share:.{digits}f}"
    if is_missing(n):
        mark = fmt_count(n, display)
        if style == "prose":
            return f"{number}% (n{mark})" if mark.startswith("<") else f"{number}% (n={mark})"
        return f"{number} ({mark})"
    if style == "prose":
        return f"{number}% (n={int(n):,})"
    return f"{number} ({int(n)})"


def fmt_row(r: object, *, style: str = "prose") -> str:
    """:func:`fmt_pct_n` of a results row (a Series or namedtuple with ``n``, ``denominator`` and,
    after :func:`msht.publish.sdc.protect_descriptives`, ``display``)."""
    get = r.get if hasattr(r, "get") else (lambda key, default=None: getattr(r, key, default))
    return fmt_pct_n(get("n"), get("denominator"), style=style, display=get("display", "") or "")


def fmt_number(value: float) -> str:
    """Format a count or statistic as prose prints it: ``1,234`` for whole values, else one decimal."""
    value = float(value)
    if value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def fmt_total(value: object) -> str:
    """A total that may be a number, NaN (hidden) or already a mark."""
    if isinstance(value, str):
        return value
    return fmt_count(value)
