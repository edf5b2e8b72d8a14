"""Shared fixtures: the seed API page, a page writer, and the generated sample data set."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
SEED_PAGE = DATA / "seed_page.json"


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):  # type: ignore[no-untyped-def]
    """Under pytest-xdist (``./dev.sh test`` runs two workers, ``--dist loadgroup``): a test
    file's tests on one worker, so that its module fixtures are made once, and every Spark test
    on one worker, so that the suite starts one Spark session (and test_browser.py's one
    browser). Without xdist the marks do nothing.

    xdist groups by a suffix it adds to each node id; pytest 9.2 keeps node ids where xdist
    3.8 cannot change them, so every test was scheduled on its own (module fixtures made on
    both workers, two Spark sessions): a worker that finds no suffix stops the run.
    """
    for item in items:
        if item.get_closest_marker("spark"):  # a Spark session is as slow to start as a render
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group("spark"))
        else:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    result = yield
    if getattr(config.option, "loadgroup", False):
        lost = [
            item.nodeid
            for item in items
            if not item.nodeid.endswith(f"@{item.get_closest_marker('xdist_group').args[0]}")
        ]
        if lost:
            raise RuntimeError(
                f"pytest-xdist did not group {lost[0]} (and {len(lost) - 1} more): this pytest "
                "and pytest-xdist do not work together; install the versions requirements.lock pins"
            )
    return result


@pytest.fixture
def seed_record() -> dict[str, Any]:
    """A fresh deep copy of the single record in the seed API page."""
    return copy.deepcopy(json.loads(SEED_PAGE.read_text())["cxLogs"]["data"][0])


@pytest.fixture
def write_page(tmp_path: Path) -> Callable[..., Path]:
    """Write records as an API page (``name.json``) or NDJSON (``name.jsonl``) under tmp_path."""

    def write(records: list[Any], name: str = "page.json") -> Path:
        path = tmp_path / name
        if name.endswith((".jsonl", ".ndjson")):
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
        else:
            page = {
                "requestId": "r",
                "cxLogs": {"data": records, "total": 99, "page": 1, "pageSize": 100, "lastPage": 1},
            }
            path.write_text(json.dumps(page))
        return path

    return write


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default sample data set, generated once per test session (a smaller copy)."""
    from cxreports.sample import generate

    out = tmp_path_factory.mktemp("sample")
    generate(out, records=3000, weeks=10, seed=7)
    return out


@pytest.fixture(scope="session")
def rendered(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both reports of 2026-W13 (Singapore) rendered once per session from the sample."""
    from cxreports.report import REPORTS, render_reports

    out = tmp_path_factory.mktemp("reports")
    # from the folder above, with a relative output path: the reports render side by side in
    # threads, and none of them may move the process's working directory
    cwd = os.getcwd()
    os.chdir(out.parent)
    try:
        written = render_reports(
            list(REPORTS), [sample_dir], "2026-W13", "Asia/Singapore", Path(out.name)
        )
        assert os.getcwd() == str(out.parent), "rendering changed the working directory"
    finally:
        os.chdir(cwd)
    return written


# the SMTP server and fault fixtures live with their helpers; conftest makes them available
from .faults import full_disk, read_only_dir  # noqa: E402, F401
from .smtp_server import smtp_server  # noqa: E402, F401


@pytest.fixture(scope="session")
def spark():
    """The suite's one local Spark session (Java 17; ./dev.sh installs it): two threads, no
    web UI, UTC, small shuffles."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("cxreports-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    yield session
    session.stop()
