"""Stage 1, ingest: read the raw extracts and validate them against the data dictionary
(:mod:`~msht.ingest.extracts`), code raw police values to the vocabulary
(:mod:`~msht.ingest.coding`) and pseudonymise identifiers (:mod:`~msht.ingest.privacy`).
See ``docs/architecture.md``."""
