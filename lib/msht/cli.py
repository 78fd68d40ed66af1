"""Command line: ``msht data|run|render|report [--params FILE]`` (the Makefile calls these)."""

from __future__ import annotations

import argparse
import os
import sys

from msht.config import ParamsError, load_params
from msht.ingest import ExtractError


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one stage; bad data or params end with one clear line, no traceback."""
    parser = argparse.ArgumentParser(prog="msht", description=__doc__)
    parser.add_argument("command", choices=["data", "run", "render", "report"], help="stage to run")
    parser.add_argument("--params", default="params/default.yaml", help="params YAML file (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="data: regenerate the synthetic extracts even if present")
    args = parser.parse_args(argv)
    from msht import audit, generate, render

    try:
        params = load_params(args.params)
        if args.command in ("data", "report") and params.synthetic:
            generate.generate(params, force=args.force)
        if args.command in ("run", "report"):
            audit.protect_release(args.params)  # the notebooks; a release is audited until safe
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
        if name == "PapermillExecutionError" and getattr(exc, "ename", "") in ("ExtractError", "ParamsError"):
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
