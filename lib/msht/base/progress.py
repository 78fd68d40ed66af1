"""Progress bars (tqdm, on stderr) for the long steps: generation, reading, cleaning, notebooks.

Bars are shown when stderr is a terminal. ``MSHT_PROGRESS=1`` shows them anyway (a CI log, a
redirected run); ``MSHT_PROGRESS=0`` hides them. Inside a notebook's kernel they are never shown,
whatever the variable says: the kernel's stderr is saved in the notebook, and the committed
notebooks must not change from run to run. Papermill shows the notebooks' progress instead,
cell by cell. Bars never go to stdout, so they never end up in a results file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

#: Environment variable forcing progress bars on (``1``) or off (``0``).
PROGRESS_ENV = "MSHT_PROGRESS"

T = TypeVar("T")


def in_kernel() -> bool:
    """True inside a Jupyter kernel, whose stderr is captured into the notebook."""
    return type(sys.stderr).__module__.startswith("ipykernel")


def enabled() -> bool:
    """True when progress bars should be shown (see the module's docstring)."""
    if in_kernel():
        return False
    value = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def iterate(items: Iterable[T], desc: str, *, unit: str = "it", total: int | None = None) -> Iterable[T]:
    """``items`` wrapped in a progress bar labelled ``desc`` when bars are enabled, else unchanged."""
    if not enabled():
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, total=total, file=sys.stderr, leave=False)


class Steps:
    """A bar over a fixed number of named steps; ``advance(label)`` starts the next one."""

    def __init__(self, desc: str, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self.done = 0
        self._bar = None
        if enabled():
            from tqdm import tqdm

            self._bar = tqdm(total=len(labels), desc=desc, unit="step", file=sys.stderr, leave=False)

    def advance(self, label: str) -> None:
        """Mark the previous step done and show ``label`` (one of the declared labels) as current."""
        if label not in self.labels:
            raise ValueError(f"unknown progress step {label!r}; declared: {', '.join(self.labels)}")
        if self._bar is not None:
            if self.done:
                self._bar.update(1)
            self._bar.set_postfix_str(label)
        self.done += 1

    def close(self) -> None:
        """Mark the last step done and remove the bar."""
        if self._bar is not None:
            self._bar.update(1)
            self._bar.close()


@contextmanager
def steps(desc: str, *labels: str) -> Iterator[Steps]:
    """Context manager yielding a :class:`Steps` bar, closed on exit."""
    bar = Steps(desc, labels)
    try:
        yield bar
    finally:
        bar.close()
