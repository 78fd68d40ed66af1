"""The typed schema of a run's params file (pydantic), checked once before anything runs.

Every key of ``params/default.yaml`` is required, and no other key is accepted (a typo such as
``min_cel_count`` is refused, with the nearest known key suggested). Values:

============================  =====================================================================
key                           accepted
============================  =====================================================================
``run_name``                  letters, digits, ``_ . -`` (it names folders)
``synthetic``                 ``true`` / ``false``
``force_name``                non-blank text
``report_title``              non-blank text
``authors``                   text, ``;``-separated; blank means none (default ``""``)
``funder``                    text; blank means no funder line (default ``""``)
``raw_dir``                   a folder; it must exist when ``synthetic`` is false
``processed_dir``             non-blank folder path (created by the run)
``results_dir``               non-blank folder path (created by the run)
``report_dir``                non-blank folder path (created by the run)
``seed``                      a whole number >= 0; required when ``synthetic`` is true, else optional
``scale``                     a whole number >= 1 (default 1; used only when ``synthetic`` is true)
``period_start``              an ISO date ``YYYY-MM-DD`` (quoted or not), a real calendar date
``period_end``                an ISO date, not before ``period_start``
``outlier_min_entries``       a whole number >= 0
``min_cell_count``            a whole number >= 0
``alpha``                     a number strictly between 0 and 1
``internal_agency_names``     non-blank text, ``;``-separated words
``columns`` (optional)        extract -> {force's header: dictionary field}
``values`` (optional)         extract -> field -> {force's raw code: project code}
``sheets`` (optional)         extract -> worksheet name of its ``.xlsx``
``files`` (optional)          extract -> its file's name in ``raw_dir`` (``.csv`` or ``.xlsx``)
============================  =====================================================================

The four optional mapping keys let a force's own extracts be read without editing them
(``docs/bringing-extracts.md``). Each is checked against the data dictionary
(``msht/data/dictionary.yaml``): an unknown extract, field or code is refused with one line naming
it and the closest known name; two headers mapped to one field, two extracts given one file, a
file name that is not a bare ``.csv``/``.xlsx`` name and a sheet for a ``.csv`` file are refused.
A missing sheet or file is found when the extracts are read (the error lists the workbook's
sheets, or the folder's files).

**A run of several forces** (issue 19) lists them under ``forces:`` (absent or empty: a
single-force run, read exactly as before). Each force is a :class:`ForceParams`: ``name`` (unique,
shown in tables and figures), ``raw_dir``, ``extracts`` (default all four; only ``offenders`` may
be left out), its own ``columns``/``values``/``sheets``/``files`` and ``internal_agency_names``
(optional), and, for a synthetic run, ``seed`` (required), ``scale`` (a number > 0: 0.1 is ten
times smaller than the published force), ``offered_log_odds`` and ``accepted_log_odds``. The
top-level ``raw_dir``, ``seed``, ``scale`` and mapping keys are then refused (one line saying to
move them into each force); two forces may not share a name, a folder name
(:func:`force_slug`) or a ``raw_dir``. Every complaint about a force names it:
``forces[2] ('Force C'): key 'seed': value -1 must be greater than or equal to 0``.

Only ISO dates are accepted: ``01/04/2018`` could be 1 April or 4 January, so it is refused
rather than guessed. Relative paths are resolved against the project root.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, ValidationError, ValidationInfo, \
    field_validator, model_validator

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _blank_is_empty_text(value: Any) -> Any:
    """A blank value (YAML ``key:`` with nothing after it) of an optional text key -> ``""``."""
    return "" if value is None else value


def _iso_date(value: Any) -> Any:
    """An ISO date as text: YAML reads an unquoted ``2018-01-01`` as a date; keep it as text."""
    if isinstance(value, datetime):
        raise ValueError("must be a date without a time (YYYY-MM-DD)")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if not _ISO_DATE.match(text):
            raise ValueError("is not an ISO date: write it as YYYY-MM-DD (e.g. 2018-04-01 for 1 April 2018)")
        try:
            date.fromisoformat(text)
        except ValueError:
            raise ValueError("is not a real calendar date") from None
        return text
    return value


#: The optional mapping keys of a params file (a force's layout; empty when absent).
MAPPING_KEYS = ("columns", "values", "sheets", "files")


def _dictionary() -> dict[str, Any]:
    """The data dictionary (read as data: this module imports no stage)."""
    from importlib import resources

    import yaml

    return yaml.safe_load(resources.files("msht").joinpath("data/dictionary.yaml").read_text(encoding="utf-8"))


#: A list of known names longer than this is not spelled out in an error (the countries).
MAX_LISTED = 30


def _known(kind: str, name: object, known: list[str], where: str = "") -> str:
    """``name`` if it is one of ``known``; else raise naming it, the closest known name and the
    list (or, when it is long, how many there are and an example)."""
    if isinstance(name, str) and name in known:
        return name
    near = difflib.get_close_matches(str(name), known, n=1)
    near = near or [k for k in known if str(name).casefold() in k.casefold()][:1]
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    listed = ", ".join(known) if len(known) <= MAX_LISTED else f"{len(known)} names such as {known[0]}"
    raise ValueError(f"unknown {kind} {name!r}{where}{hint}; known: {listed}")


def _codes(extract: str, fname: str) -> list[str]:
    """The codes field ``fname`` of ``extract`` may be mapped to (the dictionary's ``codes:``;
    ``countries``: the country names of ``msht/data/who_regions.csv``)."""
    codes = _dictionary()["codes"][extract][fname]
    if codes == "countries":
        import csv
        from importlib import resources

        with resources.files("msht").joinpath("data/who_regions.csv").open(encoding="utf-8") as fh:
            return [row["country"] for row in csv.DictReader(fh)]
    return [str(c) for c in codes]


def _by_extract(value: Any, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"must map extract names to their {key}")
    extracts = list(_dictionary()["extracts"])
    return {_known("extract", k, extracts): v for k, v in value.items()}


def _columns(value: Any) -> dict[str, dict[str, str]]:
    """``columns:`` extract -> {header: field}: every field known, no field mapped twice."""
    out: dict[str, dict[str, str]] = {}
    fields_of = _dictionary()["extracts"]
    for extract, table in _by_extract(value, "headers").items():
        if not isinstance(table, dict) or not table:
            raise ValueError(f"{extract}: must map the force's headers to fields")
        known = list(fields_of[extract]["fields"])
        seen: dict[str, str] = {}
        for header, target in table.items():
            target = _known("field", target, known, f" for header {str(header)!r} of {extract}")
            if target in seen:
                raise ValueError(f"{extract}: headers {seen[target]!r} and {str(header)!r} both map to {target}")
            seen[target] = str(header)
        out[extract] = {str(h): str(f) for h, f in table.items()}
    return out


def _values(value: Any) -> dict[str, dict[str, dict[str, str]]]:
    """``values:`` extract -> field -> {raw code: code}: fields that take codes, codes they know."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    codes_of = _dictionary()["codes"]
    for extract, per_field in _by_extract(value, "fields' codes").items():
        if not isinstance(per_field, dict) or not per_field:
            raise ValueError(f"{extract}: must map fields to {{raw code: code}}")
        out[extract] = {}
        for fname, table in per_field.items():
            fname = _known("coded field", fname, list(codes_of.get(extract, {})), f" of {extract}")
            if not isinstance(table, dict) or not table:
                raise ValueError(f"{extract}: {fname}: must map raw codes to codes")
            known = _codes(extract, fname)
            out[extract][fname] = {
                str(raw): _known("code", code, known, f" for raw code {str(raw)!r} of {extract}.{fname}")
                for raw, code in table.items()
            }
    return out


def _sheets(value: Any) -> dict[str, str]:
    """``sheets:`` extract -> non-blank worksheet name."""
    out = {}
    for extract, sheet in _by_extract(value, "sheet names").items():
        if not isinstance(sheet, str | int) or not str(sheet).strip():
            raise ValueError(f"{extract}: the sheet name is blank")
        out[extract] = str(sheet)
    return out


#: The file formats an extract may come in.
FILE_SUFFIXES = (".csv", ".xlsx")


def _files(value: Any) -> dict[str, str]:
    """``files:`` extract -> the name of its file in ``raw_dir``: a bare name ending ``.csv`` or
    ``.xlsx``, no two extracts in one file."""
    out: dict[str, str] = {}
    for extract, name in _by_extract(value, "file names").items():
        text = str(name).strip() if isinstance(name, str | int) else ""
        if not text:
            raise ValueError(f"{extract}: the file name is blank")
        if "/" in text or "\\" in text:
            raise ValueError(f"{extract}: {text!r} is a path: give the file's name in raw_dir only")
        if not text.casefold().endswith(FILE_SUFFIXES):
            raise ValueError(f"{extract}: file {text!r} must be a .csv or .xlsx file")
        twin = next((e for e, n in out.items() if n.casefold() == text.casefold()), None)
        if twin:
            raise ValueError(f"extracts {twin} and {extract} are both given file {text!r}")
        out[extract] = text
    return out


def _non_blank(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("is blank: give a value")
    return value


NonBlank = Annotated[str, BeforeValidator(_non_blank)]
OptionalText = Annotated[str, BeforeValidator(_blank_is_empty_text)]
IsoDate = Annotated[str, BeforeValidator(_iso_date)]


class ParamsSchema(BaseModel):
    """A run's parameters as the params file must give them (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    run_name: Annotated[NonBlank, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    synthetic: StrictBool
    force_name: NonBlank
    report_title: NonBlank
    authors: OptionalText
    funder: OptionalText
    raw_dir: NonBlank
    processed_dir: NonBlank
    results_dir: NonBlank
    report_dir: NonBlank
    #: The twin's seed and size (``msht data``): required when ``synthetic`` is true, unused otherwise.
    seed: Annotated[StrictInt, Field(ge=0)] | None = None
    scale: Annotated[StrictInt, Field(ge=1)] = 1
    period_start: IsoDate
    period_end: IsoDate
    outlier_min_entries: Annotated[StrictInt, Field(ge=0)]
    min_cell_count: Annotated[StrictInt, Field(ge=0)]
    alpha: Annotated[float, Field(gt=0, lt=1)]
    internal_agency_names: NonBlank
    columns: Annotated[dict, BeforeValidator(_columns)] = Field(default_factory=dict)
    values: Annotated[dict, BeforeValidator(_values)] = Field(default_factory=dict)
    sheets: Annotated[dict, BeforeValidator(_sheets)] = Field(default_factory=dict)
    files: Annotated[dict, BeforeValidator(_files)] = Field(default_factory=dict)

    @field_validator("alpha", mode="before")
    @classmethod
    def _alpha_is_a_number(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number strictly between 0 and 1")
        return value

    @model_validator(mode="after")
    def _sheets_of_workbooks(self) -> ParamsSchema:
        for extract, sheet in self.sheets.items():
            name = self.files.get(extract, "")
            if name.casefold().endswith(".csv"):
                raise ValueError(f"key 'sheets': {extract}: sheet {sheet!r} is named but files: gives {name!r}, "
                                 "a .csv file (sheets are for .xlsx workbooks)")
        return self

    @model_validator(mode="after")
    def _period_and_paths(self, info: ValidationInfo) -> ParamsSchema:
        if self.period_start > self.period_end:
            raise ValueError(f"period_start {self.period_start!r} is after period_end {self.period_end!r}")
        if self.synthetic and self.seed is None:
            raise ValueError("seed is missing (synthetic is true: the twin needs one)")
        if not self.synthetic:
            from msht.config import project_root

            root = (info.context or {}).get("root") or project_root()
            raw = Path(self.raw_dir)
            raw = raw if raw.is_absolute() else Path(root) / raw
            if not raw.is_dir():
                raise ValueError(f"raw_dir {self.raw_dir!r} is not a folder (synthetic is false, so the extracts must be there)")
        return self


#: The extracts a force may send; every force sends the first three (the cases, their victims and the
#: victims' police records); a force that sends no offender extract omits ``offenders``.
FORCE_EXTRACTS = ("cases", "victims", "police_records", "offenders")
REQUIRED_EXTRACTS = ("cases", "victims", "police_records")
#: Keys of a single-force params file that a run with ``forces:`` gives per force instead.
PER_FORCE_KEYS = ("raw_dir", "seed", "scale", *MAPPING_KEYS)


def force_slug(name: str) -> str:
    """The folder name of a force: ``"Force A (North)"`` -> ``"force_a_north"`` (lower case letters,
    digits and ``_``); used for its processed and results subfolders."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")
    return slug or "force"


def _extract_list(value: Any) -> Any:
    """``extracts:`` a list of the four extract names; blank means all four."""
    if value is None:
        return list(FORCE_EXTRACTS)
    if not isinstance(value, list) or not value:
        raise ValueError(f"must list the extracts the force sends, from {list(FORCE_EXTRACTS)}")
    names = [_known("extract", name, list(FORCE_EXTRACTS)) for name in value]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"lists {twice} twice")
    lacking = [n for n in REQUIRED_EXTRACTS if n not in names]
    if lacking:
        raise ValueError(f"lacks {lacking}: every force sends {list(REQUIRED_EXTRACTS)}; only offenders may be left out")
    return [n for n in FORCE_EXTRACTS if n in names]


def _number(value: Any) -> Any:
    """A number (int or float) but not ``true``/``false`` (YAML booleans are ints to Python)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return float(value) if isinstance(value, float) else value


class ForceParams(BaseModel):
    """One force of a run with ``forces:`` (see ``docs/bringing-extracts.md``): its name, its
    extracts' folder, which extracts it sends and its own mappings; for a synthetic run also the
    twin's seed, size and support profile (``msht.synth``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: NonBlank
    raw_dir: NonBlank
    extracts: Annotated[list, BeforeValidator(_extract_list)] = Field(default_factory=lambda: list(FORCE_EXTRACTS))
    columns: Annotated[dict, BeforeValidator(_columns)] = Field(default_factory=dict)
    values: Annotated[dict, BeforeValidator(_values)] = Field(default_factory=dict)
    sheets: Annotated[dict, BeforeValidator(_sheets)] = Field(default_factory=dict)
    files: Annotated[dict, BeforeValidator(_files)] = Field(default_factory=dict)
    #: ``None``: the run's ``internal_agency_names``.
    internal_agency_names: Annotated[str | None, BeforeValidator(_non_blank)] = None
    #: Synthetic runs only (``msht data``): the generator's seed (required when ``synthetic: true``).
    seed: Annotated[StrictInt, Field(ge=0)] | None = None
    #: Synthetic size: 1 is the published force, 0.1 ten times smaller.
    scale: Annotated[float, BeforeValidator(_number), Field(gt=0)] = 1
    #: Added to the log-odds of being offered (accepting) support in the synthetic twin.
    offered_log_odds: Annotated[float, BeforeValidator(_number)] = 0.0
    accepted_log_odds: Annotated[float, BeforeValidator(_number)] = 0.0

    @property
    def slug(self) -> str:
        """The force's folder name (:func:`force_slug`)."""
        return force_slug(self.name)

    @property
    def has_offenders(self) -> bool:
        """True when the force sends an offender extract."""
        return "offenders" in self.extracts

    @model_validator(mode="after")
    def _mappings_of_sent_extracts(self) -> ForceParams:
        for key in MAPPING_KEYS:
            for extract, value in getattr(self, key).items():
                if extract not in self.extracts:
                    raise ValueError(f"{key}: {extract} is mapped but extracts: leaves it out")
        for extract, sheet in self.sheets.items():
            name = self.files.get(extract, "")
            if name.casefold().endswith(".csv"):
                raise ValueError(f"sheets: {extract}: sheet {sheet!r} is named but files: gives {name!r}, "
                                 "a .csv file (sheets are for .xlsx workbooks)")
        return self


def _per_force(value: Any) -> Any:
    """A single-force key given at the top of a run with ``forces:``: refused."""
    raise ValueError("is given per force in a run with forces: move it into each force")


class ForcesSchema(ParamsSchema):
    """A run of several forces (``forces:``, see the module docstring): the run's keys without the
    per-force ones (``raw_dir``, ``seed``, ``scale`` and the mappings move into each force)."""

    raw_dir: Annotated[Any, BeforeValidator(_per_force)] = None
    seed: Annotated[Any, BeforeValidator(_per_force)] = None
    scale: Annotated[Any, BeforeValidator(_per_force)] = None
    columns: Annotated[Any, BeforeValidator(_per_force)] = None
    values: Annotated[Any, BeforeValidator(_per_force)] = None
    sheets: Annotated[Any, BeforeValidator(_per_force)] = None
    files: Annotated[Any, BeforeValidator(_per_force)] = None
    forces: Annotated[list[ForceParams], Field(min_length=1)]

    @model_validator(mode="after")
    def _sheets_of_workbooks(self) -> ForcesSchema:
        return self  # each force checks its own (ForceParams)

    @model_validator(mode="after")
    def _period_and_paths(self, info: ValidationInfo) -> ForcesSchema:
        if self.period_start > self.period_end:
            raise ValueError(f"period_start {self.period_start!r} is after period_end {self.period_end!r}")
        problems = []
        for kind, key in (("name", lambda f: f.name), ("folder name", lambda f: f.slug),
                          ("raw_dir", lambda f: Path(f.raw_dir).as_posix())):
            seen: dict[str, int] = {}
            for i, force in enumerate(self.forces):
                if key(force) in seen and not (kind == "folder name" and self.forces[seen[key(force)]].name == force.name):
                    problems.append(f"forces[{seen[key(force)]}] and forces[{i}] have the same {kind} {key(force)!r}")
                seen.setdefault(key(force), i)
        if self.synthetic:
            problems += [f"force {f.name!r}: seed is missing (synthetic is true: the twin needs one)"
                         for f in self.forces if f.seed is None]
        else:
            from msht.config import project_root

            root = Path((info.context or {}).get("root") or project_root())
            problems += [f"force {f.name!r}: raw_dir {f.raw_dir!r} is not a folder (synthetic is false, so the "
                         "extracts must be there)" for f in self.forces
                         if not (Path(f.raw_dir) if Path(f.raw_dir).is_absolute() else root / f.raw_dir).is_dir()]
        if problems:
            raise ValueError("; ".join(dict.fromkeys(problems)))
        return self


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "..."


def describe_errors(exc: ValidationError, raw: dict[str, Any]) -> str:
    """The schema's complaints as one line: ``key 'k': value 'v' <what is wrong>`` joined by ``; ``."""
    known = list(ParamsSchema.model_fields) + (["forces"] if "forces" in raw else [])
    parts: list[str] = []
    missing: list[str] = []
    unknown: list[str] = []
    for err in exc.errors(include_url=False):
        loc = err.get("loc") or ()
        key = str(loc[0]) if loc else ""
        kind = err.get("type", "")
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        if key == "forces" and len(loc) > 1:
            parts.append(_force_error(loc, kind, msg, err.get("input"), raw))
        elif kind == "missing":
            missing.append(key)
        elif kind == "extra_forbidden":
            near = difflib.get_close_matches(key, known, n=1)
            unknown.append(f"{key!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
        elif not key:
            parts.append(msg)
        elif key in MAPPING_KEYS:
            parts.append(f"key {key!r}: {msg}")
        else:
            value = raw.get(key, err.get("input"))
            if value is None:
                parts.append(f"key {key!r} is blank: give a value")
            else:
                parts.append(f"key {key!r}: value {_shown(value)} {_reword(kind, msg)}")
    if unknown:
        parts.insert(0, "unknown keys [" + ", ".join(unknown) + "] (a typo is never ignored)")
    if missing:
        parts.insert(0, f"missing keys {missing}")
    return "; ".join(parts)


def _reword(kind: str, msg: str) -> str:
    """Pydantic's message as the end of a sentence about a value."""
    words = {
        "bool_type": "must be true or false",
        "int_type": "must be a whole number",
        "string_type": "must be text",
        "float_type": "must be a number",
        "string_pattern_mismatch": "may hold only letters, digits, '_', '.' and '-'",
    }
    if kind in words:
        return words[kind]
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return "must be " + msg.removeprefix("Input should be ")
    return msg[0].lower() + msg[1:] if msg and not msg.startswith(("is ", "must ")) else msg


def _force_error(loc: tuple, kind: str, msg: str, value: Any, raw: dict[str, Any]) -> str:
    """One complaint about ``forces[i]`` as ``forces[i] ('Name'): key 'k': value 'v' <what is wrong>``."""
    index = loc[1]
    forces = raw.get("forces") if isinstance(raw.get("forces"), list) else []
    given = forces[index] if isinstance(index, int) and index < len(forces) else None
    name = given.get("name") if isinstance(given, dict) else None
    where = f"forces[{index}]" + (f" ({name!r})" if isinstance(name, str) and name.strip() else "")
    if len(loc) == 2:
        if kind in ("model_type", "dict_type"):
            return f"{where}: must be a mapping of keys (name, raw_dir, ...) to values"
        return f"{where}: {msg}"
    key = str(loc[2])
    if kind == "missing":
        return f"{where}: key {key!r} is missing"
    if kind == "extra_forbidden":
        near = difflib.get_close_matches(key, list(ForceParams.model_fields), n=1)
        return f"{where}: unknown key {key!r}" + (f" (did you mean {near[0]!r}?)" if near else "") + \
            " (a typo is never ignored)"
    if key in MAPPING_KEYS or key == "extracts":
        return f"{where}: key {key!r}: {msg}"
    if value is None:
        return f"{where}: key {key!r} is blank: give a value"
    return f"{where}: key {key!r}: value {_shown(value)} {_reword(kind, msg)}"
