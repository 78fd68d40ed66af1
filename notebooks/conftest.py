"""nbval runs the committed notebooks, whose outputs are the default run's (``pytest notebooks
--nbval``). ``05_forces.ipynb`` runs only in a run of several forces (``forces:``), has no
committed outputs (the national run would have to be reproduced in CI to check them), and is
tested in-process instead, on small synthetic forces (``tests/test_forces_run.py``)."""

collect_ignore = ["05_forces.ipynb"]
