"""Command line: ``msht data|check|run|render|report [--params FILE]`` (the Makefile calls these).

``msht check`` validates a run's four extracts in one pass and writes what it found to the
run's git-ignored processed folder (:mod:`msht.clean.check`); it exits with status 1 when the
run would stop on an error.

The library logs through :mod:`logging` (``logging.getLogger(__name__)`` in each module) and
prints nothing itself; :func:`configure_logging`, called once here, shows the ``msht`` loggers'
messages (INFO and up) on stdout as bare lines. Errors end a command with one ``msht: error:``
line on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from msht.config import ParamsError, load_params
from msht.ingest.extracts import ExtractError

#: What ``msht --help`` says (the module docstring is for developers).
DESCRIPTION = (
    "MSHT victim-engagement toolkit. data: generate the synthetic extracts of a synthetic run; "
    "check: validate a run's four extracts in one pass (a page and CSVs for the data owner; exit 1 on an error); "
    "run: the notebooks and results (a release is audited for disclosure until safe); "
    "render: the report; report: all three."
)


class _StdoutHandler(logging.StreamHandler):
    """Writes each record to whatever ``sys.stdout`` is when it is logged (not the stream of the
    moment the handler was made, which a test's capture, say, may since have closed)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging(level: int = logging.INFO) -> None:
    """Show the messages of the ``msht`` loggers at ``level`` and above on stdout, one bare line
    each (what the terminal shows for ``make report``). Other libraries' loggers (papermill's,
    say) are left as they are. Calling it again replaces the handler instead of adding one."""
    handler = _StdoutHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("msht")
    logger.handlers = [handler]
    logger.setLevel(level)


def _check(params) -> int:
    """``msht check``: the one-pass check of the run's extracts; 1 when the run would stop."""
    from msht.clean import check
    from msht.config import RunPaths
    from msht.ingest.extracts import mappings_from

    if params.forces:
        raise ParamsError(f"msht check reads one force's extracts, and params run {params.run_name!r} lists "
                          f"{len(params.forces)} forces: check each force with a single-force params file of its own "
                          "(docs/bringing-extracts.md, step 7)")
    paths = RunPaths.from_params(params)
    result = check.check(paths.raw_dir, period=(params.period_start, params.period_end),
                         force_words=params.force_words, mappings=mappings_from(params))
    folder = paths.processed_dir / "check"
    check.write_check(result, folder, f"Extract check: {params.force_name} ({params.run_name})")
    print(check.summary(result, folder))
    return 1 if result.n_errors else 0


#: Errors in a notebook that are about the data or the params, not the code: ``msht`` prints their
#: one line (exit 2), no traceback (a force too small to release with the others:
#: :class:`msht.publish.forces_tables.SmallForceError`).
DATA_ERRORS: tuple[str, ...] = ("ExtractError", "ParamsError", "SmallForceError")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one stage; bad data or params end with one clear line, no traceback."""
    parser = argparse.ArgumentParser(prog="msht", description=DESCRIPTION)
    parser.add_argument("command", choices=["data", "check", "run", "render", "report"], help="stage to run")
    parser.add_argument("--params", default="params/default.yaml", help="params YAML file (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="data: regenerate the synthetic extracts even if present")
    args = parser.parse_args(argv)
    configure_logging()
    from msht import pipeline
    from msht.publish import audit, render
    from msht.synth import generate

    try:
        params = load_params(args.params)
        if args.command in ("data", "report") and params.synthetic:
            generate.generate(params, force=args.force)
        if args.command == "check":
            return _check(params)
        if args.command in ("run", "report"):
            pipeline.protect_release(args.params)  # the notebooks; a release is audited until safe
        if args.command in ("render", "report"):
            render.render(args.params)
    except (ParamsError, ExtractError) as exc:
        print(f"msht: error: {exc}", file=sys.stderr)
        return 2
    except (render.RenderError, audit.DisclosureError) as exc:
        print(f"msht: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # papermill wraps a notebook's data error in its own exception
        name = type(exc).__name__
        if name == "PapermillExecutionError" and getattr(exc, "ename", "") in DATA_ERRORS:
            print(f"msht: error: {exc.evalue}", file=sys.stderr)
            return 2
        if name == "PapermillExecutionError" and not os.environ.get("MSHT_DEBUG"):
            first = str(getattr(exc, "evalue", "")).strip().splitlines()[:1]
            detail = first[0][:300] if first else ""
            print(f"msht: error: a notebook stopped with {getattr(exc, 'ename', 'an error')}: {detail} "
                  "(set MSHT_DEBUG=1 to see the traceback)", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
