"""Stage 2, clean: the study's exclusion rules, duplicates and merge into the row-level analysis
tables, with every raw row accounted for (:mod:`~msht.clean.rules`). See ``docs/architecture.md``."""
