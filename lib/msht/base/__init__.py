"""Shared helpers with no stage of their own, importable by every stage: the vocabulary of codes
and labels (:mod:`~msht.base.vocab`), plain-text normalising (:mod:`~msht.base.plaintext`) and
progress bars (:mod:`~msht.base.progress`). See ``docs/architecture.md``."""
