"""Replacing a folder of outputs as a whole, so that a reader never sees half of a new run."""

from __future__ import annotations

import shutil
from pathlib import Path


def swap_in(staged: Path, target: Path) -> None:
    """Replace folder ``target`` by ``staged`` with two renames (the old one is then deleted)."""
    if not staged.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    staged.rename(target)
    if old.exists():
        shutil.rmtree(old)
