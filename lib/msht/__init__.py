"""MSHT victim-engagement toolkit.

pandas keeps text of the ``string`` and ``str`` dtypes in Python strings here, as pandas 2 did:
pandas 3 would store them in pyarrow by default, whose string functions use RE2 and utf8proc
(``\\d``, ``\\s``, ``strip()`` match fewer Unicode characters than Python's) and which cannot
hold a lone surrogate. The identifier and coding rules are Python's (``msht.ingest`` keeps a
pyarrow path only where both agree), so the option is set once, on import.
"""

import pandas as _pd

_pd.set_option("mode.string_storage", "python")
