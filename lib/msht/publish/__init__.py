"""Stage 4, publish: what a reader sees. Results CSVs, disclosure control, tables, figures,
computed prose, the data-quality report and the rendered report. See ``docs/architecture.md``."""
