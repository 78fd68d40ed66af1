"""What only the run knows of the report: its title, subtitle, authors (the staged article's
front matter) and the force, period, funder and significance level (``_variables.yml``, read by
``{{< var ... >}}`` in the body), all from the params file."""

from __future__ import annotations

from msht.config import Params


SYNTHETIC_BANNER = (
    "SYNTHETIC DATA: every figure in this report comes from the project's synthetic twin, "
    "not from police records."
)


def period_label(params: Params, dash: str = "-") -> str:
    """The years of the run's period, e.g. ``2018-2023``."""
    return f"{params.period_start[:4]}{dash}{params.period_end[:4]}"


def report_metadata(params: Params) -> dict:
    """Quarto metadata drawn from params (title, author, funder, period, synthetic banner)."""
    return {
        "title": params.report_title,
        "subtitle": f"{params.force_name}, {period_label(params, '–')}",
        "author": [{"name": a.strip()} for a in params.authors.split(";") if a.strip()],
        "funding": params.funder,
        "synthetic": params.synthetic,
        "banner": SYNTHETIC_BANNER if params.synthetic else "",
    }


def report_variables(params: Params) -> dict:
    """The values ``{{< var ... >}}`` reads in the article's body (written to ``_variables.yml``)."""
    return {
        "force_name": params.force_name,
        "period_start": params.period_start,
        "period_end": params.period_end,
        "period": period_label(params, "–"),
        "funder": params.funder,
        "authors": params.authors,
        "alpha": f"{params.alpha:g}",
        "run_name": params.run_name,
        "synthetic": "yes" if params.synthetic else "no",
        "banner": SYNTHETIC_BANNER if params.synthetic else "",
    }
