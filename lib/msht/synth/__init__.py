"""The synthetic twin: a calibrated population (:mod:`~msht.synth.population`) written as messy
police-style raw extracts (:mod:`~msht.synth.raw`) for a params file (:mod:`~msht.synth.generate`,
``msht data``). In the data flow it comes before ingest (it writes the files ingest reads); in the
import order it comes last, after every stage it borrows from. See ``docs/architecture.md``."""
