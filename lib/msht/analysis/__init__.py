"""Stage 3, analysis: descriptive statistics, association tests, regression and the comparison
with the published figures, as tidy results frames. See ``docs/architecture.md``."""
