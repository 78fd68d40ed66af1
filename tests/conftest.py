"""Shared fixtures (project paths, small synthetic extracts, the default twin and its release run),
the Hypothesis profile, and the kinds of tests.

Kinds, as pytest markers (``pytest -m unit``, ``-m "not slow"``), assigned in
:class:`KindMarkers` by file (:data:`FILE_KINDS`) or by a test's own marker:

- ``unit``: everything that is neither of the kinds below (tiny hand-made frames, small twins);
- ``property``: Hypothesis tests (found by their ``@given``); their budget follows the profile
  (see ``tests/hypothesis_profiles.py``);
- ``backtest``: byte-for-byte comparisons with committed outputs or with a second run, and nbval
  on the committed notebooks;
- ``slow``: end-to-end runs of the notebooks, with papermill (tens of seconds each) or their code
  in-process (``run_in_process``).

``make test-unit`` runs ``-m "not slow"`` under the everyday Hypothesis profile; ``make test``
runs everything, nbval included, under the full one, on every core (``pytest -n auto --dist
loadgroup``, pytest-xdist). For that, every test gets an ``xdist_group`` (:func:`xdist_group`): the
tests of one file run in one worker, so module fixtures are built once, and nbval's cells run in
order in one worker. nbval's kernels write their processed tables and results into a session
staging folder (:class:`NotebookStaging`), as ``msht run`` does, never into the committed
``results/default/`` that other tests read at the same time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import yaml

import hypothesis_profiles
from msht.config import STAGING_ENV, load_params, project_root
from msht.synth.raw import ProblemRates, write_extracts
from msht.synth.sampler import sample_population

ROOT = project_root(Path(__file__).parent)

hypothesis_profiles.load()

KINDS = ("unit", "property", "backtest", "slow")

#: Kinds of every test of a file (on top of the kinds its tests mark themselves).
FILE_KINDS: dict[str, tuple[str, ...]] = {
    "test_determinism.py": ("backtest",),
    "test_sdc_pipeline.py": ("slow",),
    "test_sdc_audit.py": ("slow",),
}


#: Files whose tests run in the group of another file (file -> that file), to share what a worker
#: builds once: the default twin's population (``msht.synth.population.build_population``, 12 s,
#: cached in the worker's memory) and the session's ``release_run`` (the audit's release of the
#: whole period).
SHARED_GROUPS = {"test_other_layout.py": "test_population.py", "test_sdc_audit.py": "test_sdc_pipeline.py"}


def xdist_group(item: pytest.Item) -> str:
    """The pytest-xdist group of a test: its file (nbval: the notebooks folder, so that the
    notebooks run in order in one kernel each, 01 before 02), except the shards of a sharded
    property test, each of which is a group of its own, and the files of :data:`SHARED_GROUPS`. (Two
    files that use one session fixture writing a fixed folder, such as ``release_run``, would need
    one group between them, as :data:`SHARED_GROUPS` gives.)"""
    path = Path(str(item.path))
    if path.suffix == ".ipynb":
        return "nbval"
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "shard" in callspec.params:
        return f"{path.name}-shard{callspec.params['shard']}"  # no brackets: xdist reads "name[...]" as no group
    return SHARED_GROUPS.get(path.name, path.name)


def kinds_of(item: pytest.Item) -> list[str]:
    """The kinds of a test (see the module docstring); ``["unit"]`` when it has none of the others."""
    path = Path(str(item.path))
    kinds = set(FILE_KINDS.get(path.name, ()))
    if path.suffix == ".ipynb":
        kinds.add("backtest")  # nbval: the committed notebooks' outputs, cell by cell
    if getattr(getattr(item, "obj", None), "hypothesis", None) is not None:
        kinds.add("property")
    kinds |= {m.name for m in item.iter_markers() if m.name in KINDS}
    return sorted(kinds) or ["unit"]


#: Approximate seconds of the longest test groups in ``make test`` (the sum of their tests' times in
#: pytest's ``--junitxml``, fresh clone, ``CI=true``, load average about 3.5 from other work, 1 December
#: 2026; every group of more than about 5 s is listed). :func:`heaviest_first` starts them first,
#: so that the last groups to run are short ones and neither worker waits long for the other at
#: the end; a group not listed weighs :data:`SECONDS_PER_TEST` per test. Only the order depends on
#: these figures.
GROUP_SECONDS: dict[str, float] = {
    "test_sdc_pipeline.py": 132, "test_population.py": 51, "test_pipeline.py": 41, "test_field_faults.py": 28,
    "test_forces_run.py": 27, "test_notebook_schedule.py": 27, "test_sdc.py": 25, "test_privacy.py": 22,
    "nbval": 21, "test_forces_figures.py": 21, "test_date_kinds.py": 19, "test_ingest_fast_path.py": 19,
    "test_coding.py": 18, "test_hostile_input.py": 17, "test_nationality_lists.py": 15, "test_stratified.py": 13,
    "test_empty_extracts.py": 12, "test_accounting_property.py": 12, "test_check.py": 10, "test_bench.py": 8,
    "test_mappings_all_fields.py": 7, "test_synth_profile.py": 6, "test_mappings.py": 5, "test_determinism.py": 4,
}
#: The weight of a test of a group not in :data:`GROUP_SECONDS` (most take a few milliseconds).
SECONDS_PER_TEST = 0.05
#: Seconds of one shard of the accounting property (``ci`` profile; measured as above: 13-22 s).
SHARD_SECONDS = 19


def heaviest_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """``items`` with their xdist groups in decreasing weight (:data:`GROUP_SECONDS`; a shard of the
    accounting property weighs :data:`SHARD_SECONDS`), each group's tests in their own order
    (nbval's cells stay in order): longest processing time first, the classic rule that keeps the
    last worker to finish from finishing much later than the other."""
    groups: dict[str, list[pytest.Item]] = {}
    for item in items:
        groups.setdefault(xdist_group(item), []).append(item)

    def weight(name: str) -> float:
        if "-shard" in name:
            return SHARD_SECONDS
        return GROUP_SECONDS.get(name, SECONDS_PER_TEST * len(groups[name]))

    return [item for name in sorted(groups, key=weight, reverse=True) for item in groups[name]]


class KindMarkers:
    """Mark every collected test, the notebooks' nbval cells included, with its kinds and its
    pytest-xdist group, as soon as it is collected: before ``-m`` selects and before pytest-xdist
    turns the groups into scheduling units (both in ``pytest_collection_modifyitems``)."""

    def __init__(self, config: pytest.Config) -> None:
        self.grouped = config.pluginmanager.hasplugin("xdist")

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        for kind in kinds_of(item):
            item.add_marker(getattr(pytest.mark, kind))
        if self.grouped:
            item.add_marker(pytest.mark.xdist_group(xdist_group(item)))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Under ``--dist loadgroup``, stop if pytest-xdist did not take the groups (it writes them
        into the node ids; it cannot under pytest 9.2): the notebooks would then run out of order.
        Then put the heaviest groups first (:func:`heaviest_first`): pytest-xdist hands out the
        groups in the order of the collection (its own reordering, by number of tests, is turned
        off in :func:`pytest_configure`)."""
        if getattr(config.option, "loadgroup", False) and items and not all("@" in item.nodeid for item in items):
            raise pytest.UsageError("pytest-xdist ignored the test groups (--dist loadgroup): "
                                    "install the versions of pyproject.toml (pytest<9.2)")
        if getattr(config.option, "loadgroup", False):  # set on pytest-xdist's workers, which collect
            items[:] = heaviest_first(items)


class NotebookStaging:
    """Point nbval's kernels at a staging folder (``$MSHT_STAGING_DIR``) for the session: the
    committed notebooks then write their processed tables and results there, as they do under
    ``msht run``, and leave ``results/default/`` (read by other tests meanwhile) alone. The
    variable is set only while a notebook's kernel starts, so no other test sees it."""

    def __init__(self) -> None:
        self.folder: Path | None = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item):
        starts_kernel = Path(str(item.path)).suffix == ".ipynb" and getattr(item.parent, "kernel", None) is None
        if not starts_kernel:
            yield
            return
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="msht-nbval-"))
        previous = os.environ.get(STAGING_ENV)
        os.environ[STAGING_ENV] = str(self.folder)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(STAGING_ENV, None)
            else:
                os.environ[STAGING_ENV] = previous

    def pytest_sessionfinish(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "loadscopereorder", None):
        config.option.loadscopereorder = False  # the groups go out heaviest first (heaviest_first)
    config.pluginmanager.register(KindMarkers(config), "msht-test-kinds")
    config.pluginmanager.register(NotebookStaging(), "msht-nbval-staging")


@pytest.fixture(scope="session")
def root() -> Path:
    """The project root."""
    return ROOT


@pytest.fixture(scope="session")
def small_raw(tmp_path_factory) -> tuple[Path, object, object]:
    """Messy extracts of a small uncalibrated population: (folder, population, ground truth)."""
    out = tmp_path_factory.mktemp("raw_small")
    pop = sample_population(300, seed=7)
    truth = write_extracts(pop, out, seed=7, rates=ProblemRates(conflict=0.02, victim_not_in_case_file=0.05))
    return out, pop, truth


def run_in_process(params_path, *, root: Path, log=None, notebooks: tuple[str, ...] | None = None) -> Path:
    """Run the code cells of notebooks 01-03 (a run of several forces: 05, 02 and 03; or ``notebooks``) in this process, in order, with
    the parameters of ``params_path`` in place of the ``parameters`` cell: the same code and the
    same results files as ``msht run`` without a kernel per notebook (seconds instead of tens
    of seconds). Outputs are not kept; returns the run's results folder."""
    import json
    import os
    import warnings

    import matplotlib
    import matplotlib.pyplot as plt

    from msht import config, pipeline
    from msht.config import STAGING_ENV, load_params

    matplotlib.use("Agg")
    params = load_params(params_path)
    assert not os.environ.get(STAGING_ENV), "an in-process run writes straight to the run's folders"
    cwd = os.getcwd()
    os.chdir(root / "notebooks")
    try:
        for name in notebooks or (config.FORCES_NOTEBOOKS if params.forces else pipeline.NOTEBOOKS[:3]):
            ns = dict(params.as_dict())
            for cell in json.loads((root / "notebooks" / name).read_text(encoding="utf-8"))["cells"]:
                tags = cell.get("metadata", {}).get("tags", [])
                if cell["cell_type"] != "code" or {"parameters", "injected-parameters"} & set(tags):
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exec(compile("".join(cell["source"]), name, "exec"), ns)
            plt.close("all")
    finally:
        os.chdir(cwd)
    return root / params.results_dir


@pytest.fixture(scope="session")
def in_process():
    """:func:`run_in_process`, for tests that run notebooks 01-03 on small cuts."""
    return run_in_process


@pytest.fixture(scope="session")
def default_extracts(root):
    """The params of the default run, its synthetic extracts generated if missing (as ``make data``
    does): once per session, for every test that runs the default twin. Under ``pytest -n`` the
    workers take turns (a lock file), so that only one of them writes the extracts."""
    from msht.synth import generate

    params = load_params(root / "params" / "default.yaml")
    lock = root / "data" / "raw" / ".default.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + 600
    while True:
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL))
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                pytest.fail(f"{lock} held for 10 minutes: remove it if no test run is generating the extracts")
            time.sleep(0.5)
    try:
        generate.generate(params)
    finally:
        lock.unlink()
    return params


def params_variant(root: Path, folder: Path, name: str, base: str = "default", **changes) -> Path:
    """Write a copy of ``params/<base>.yaml`` as ``folder/<name>.yaml`` with run name ``name``,
    its outputs under ``_output/<name>/`` and ``changes`` applied; return its path."""
    text = yaml.safe_load((root / "params" / f"{base}.yaml").read_text())
    text.update({"run_name": name, "processed_dir": f"_output/{name}/processed", "results_dir": f"_output/{name}/results",
                 "report_dir": f"_output/{name}/report", **changes})
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(text))
    return path


def forces_params(root: Path, forces: list[dict]) -> dict:
    """The default params file as a run of ``forces`` named "three" (its top-level per-force keys,
    raw_dir, seed and scale, moved into the forces), as a dict to validate."""
    raw = yaml.safe_load((root / "params" / "default.yaml").read_text())
    for key in ("raw_dir", "seed", "scale"):
        raw.pop(key)
    raw.update(run_name="three", force_name="Three synthetic forces", forces=forces)
    return raw


def sampled_forces_params(root: Path, folder: Path, sizes: dict[str, int], *, seed: int, without_offenders: str,
                          run_name: str, **changes) -> Path:
    """A params file ``folder/<run_name>.yaml`` of forces on real-extract folders under ``folder/raw``:
    force ``name`` has ``sizes[name]`` victims sampled (:func:`msht.synth.sampler.sample_population`,
    seeds from ``seed`` in order; the raw IDs of the forces overlap, each population numbering
    its victims from 1); ``without_offenders`` sends no offender extract; the default params'
    other keys, with ``changes`` applied. Returns its path."""
    forces = []
    for i, (name, n) in enumerate(sizes.items()):
        raw = folder / "raw" / name.replace(" ", "_").lower()
        raw.mkdir(parents=True)
        write_extracts(sample_population(n, seed=seed + i), raw, seed=seed + i)
        force = {"name": name, "raw_dir": str(raw)}
        if name == without_offenders:
            (raw / "offenders.csv").unlink()
            force["extracts"] = ["cases", "victims", "police_records"]
        forces.append(force)
    params = yaml.safe_load((root / "params" / "default.yaml").read_text())
    for key in ("raw_dir", "seed", "scale"):
        params.pop(key)
    params.update(run_name=run_name, synthetic=False, force_name="Three small forces",
                  processed_dir=str(folder / "processed"), results_dir=str(folder / "results"),
                  report_dir=str(folder / "report"), forces=forces, **changes)
    path = folder / f"{run_name}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def make_sampled_forces():
    """:func:`sampled_forces_params` for a test (see :func:`make_params` on why not an import)."""
    return sampled_forces_params


@pytest.fixture(scope="session")
def make_params():
    """:func:`params_variant` for a test (``from conftest import ...`` is ambiguous when pytest
    collects ``tests`` and ``notebooks`` together: both folders have a conftest module)."""
    return params_variant


@pytest.fixture(scope="session")
def make_forces_params():
    """:func:`forces_params` for a test (see :func:`make_params` on why not an import)."""
    return forces_params


@pytest.fixture(scope="session")
def default_run(root, tmp_path_factory, default_extracts) -> Path:
    """The default analysis run once per session with papermill into ``_output/backtest/`` (never
    in place: the committed notebooks and results/default are the ground truth it is compared
    with); returns that run's folder (``results/``, ``processed/``, ``notebooks/``)."""
    from msht import pipeline

    path = params_variant(root, tmp_path_factory.mktemp("default_run"), "backtest")
    pipeline.run_notebooks(path, root=root)
    return root / "_output" / "backtest"


@pytest.fixture(scope="session")
def release_run(root, tmp_path_factory, default_extracts) -> tuple[Path, Path, int]:
    """``params/release.yaml`` (disclosure control on) run once per session on the default twin as
    ``msht run`` runs it (:func:`msht.pipeline.protect_release`: notebooks 01-04 rerun until the
    audit passes), writing under ``_output/sdc_check/``: (results folder, executed notebooks
    folder, min_cell_count)."""
    from msht import pipeline

    path = params_variant(root, tmp_path_factory.mktemp("release_run"), "sdc_check", base="release")
    out_dir = pipeline.protect_release(path, root=root)
    return root / "_output" / "sdc_check" / "results", out_dir, int(load_params(path).min_cell_count)
