"""The rendered pages are safe to publish: no CDN scripts they do not need, no local paths or
user names.

Quarto adds require.js and jQuery ``<script>`` tags from public CDNs to any page that embeds
notebook HTML outputs (see ``src/core/jupyter/widgets.ts`` in quarto-cli: any ``text/html``
output counts as a "JavaScript widget"). The report needs neither, and a page that loads
require.js also turns Quarto's own UMD scripts into AMD modules. :func:`strip_cdn_scripts` removes
those tags after rendering, unless the page really uses them (Jupyter widgets or a
``require([...])`` call). :func:`find_leaks` finds the project's absolute path, the home folder or
the user name in a page.
"""

from __future__ import annotations

import getpass
import re
from pathlib import Path

from msht.config import project_root


#: ``src`` fragments of the CDN scripts Quarto (and nbconvert's lab template) add for notebook outputs.
CDN_SCRIPT_SOURCES = (
    "cdnjs.cloudflare.com/ajax/libs/require.js/",
    "cdnjs.cloudflare.com/ajax/libs/jquery/",
    "@jupyter-widgets/html-manager",
)


#: The ``integrity`` hashes of Quarto's require.js 2.3.6 and jQuery 3.5.1 tags: they identify the
#: tags even when ``embed-resources`` has replaced their ``src`` with a ``data:`` URI.
CDN_SCRIPT_INTEGRITY = (
    "sha512-c3Nl8+7g4LMSTdrm621y7kf9v3SDPnhxLNhcjFJbKECVnmZHTdo+IRO05sNLTH/D3vA6u1X32ehoLC7WFVdheg==",
    "sha512-bLT0Qm9VnAYZDflyKcBaQ2gg0hSYNQrJ8RilYldYQ1FxQYoCLtUjuuRuZo+fjqhx/qtq/1itJ0C2ejDxltZVFg==",
)


_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)


_SRC = re.compile(r"""\bsrc\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)


_JQUERY_AMD_SHIM = re.compile(r"""^\s*define\(\s*['"]jquery['"]\s*,\s*\[\]\s*,\s*function\s*\(\)\s*\{\s*return\s+window\.jQuery;?\s*\}\s*\)\s*;?\s*$""")


_WIDGET_MIME = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")


_REQUIRE_CALL = re.compile(r"\brequire(?:js)?\s*\(\s*\[|\brequire(?:js)?\.config\s*\(")


def _is_cdn_script(attrs: str, body: str) -> str | None:
    """A short description of the tag if it is one of the widget CDN scripts (or their shim)."""
    src = _SRC.search(attrs)
    if src:
        url = src.group(2)
        for marker in CDN_SCRIPT_SOURCES:
            if marker in url:
                return url if not url.startswith("data:") else marker
    for digest in CDN_SCRIPT_INTEGRITY:
        if digest in attrs:
            return f"integrity {digest[:20]}..."
    if not src and _JQUERY_AMD_SHIM.match(body):
        return "define('jquery') shim"
    return None


def strip_cdn_scripts(page: str) -> tuple[str, list[str]]:
    """Remove the require.js / jQuery / Jupyter-widgets CDN ``<script>`` tags from ``page`` when
    nothing on it needs them; return the page and a description of each tag removed.

    They are needed only by Jupyter widgets (a widget MIME type on the page) or by a script that
    calls ``require([...])``/``require.config``; in either case the page is returned unchanged.
    """
    matches = list(_SCRIPT.finditer(page))
    drop = [(m, _is_cdn_script(m.group(1), m.group(2))) for m in matches]
    drop = [(m, d) for m, d in drop if d]
    if not drop:
        return page, []
    if any(mime in page for mime in _WIDGET_MIME):
        return page, []
    dropped = {m.start() for m, _ in drop}
    for m in matches:
        if m.start() not in dropped and not _SRC.search(m.group(1)) and _REQUIRE_CALL.search(m.group(2)):
            return page, []
    out, pos = [], 0
    for m, _ in drop:
        out.append(page[pos : m.start()])
        pos = m.end()
        # Swallow the line break that followed the tag.
        if page.startswith("\n", pos):
            pos += 1
    out.append(page[pos:])
    return "".join(out), [d for _, d in drop]


def postprocess_html(folder: Path) -> dict[str, list[str]]:
    """Strip unneeded CDN scripts from every HTML file under ``folder``; return what was removed."""
    removed: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        new, gone = strip_cdn_scripts(text)
        if gone:
            path.write_text(new, encoding="utf-8")
            removed[path.relative_to(folder).as_posix()] = gone
    return removed


def leak_patterns(root: Path) -> list[re.Pattern]:
    """Patterns that must not appear in published output: the project's absolute path, home
    folders and the user's name as a path component."""
    pats = [re.escape(str(root)), r"/home/[^/\s\"'<>]+", r"/Users/[^/\s\"'<>]+", r"/root/", r"[A-Za-z]:\\\\?Users\\"]
    try:
        user = getpass.getuser()
    except Exception:  # pragma: no cover - no user name available
        user = ""
    if user:
        pats += [rf"[/\\]{re.escape(user)}[/\\]"]
    return [re.compile(p) for p in pats]


def find_leaks(text: str, root: Path | None = None) -> list[str]:
    """Every absolute path or user name in ``text`` that :func:`leak_patterns` matches."""
    root = root or project_root()
    return sorted({m.group(0) for p in leak_patterns(root) for m in p.finditer(text)})
