"""README.md's quick start, as written, on a brand-new ``django-admin startproject``.

One project per module: the README's snippets are applied where their first lines say, then
``migrate`` and ``check --deploy`` run, the README creates the experiment, ``runserver``
serves the page, and a real ``celery -A mysite worker`` (and beat) ships the page's events
to the database sink. Uses Redis for the store and as the broker (``REDIS_URL`` and
``TEST_REDIS_BROKER``, like the rest of the suite); the project's database is its own SQLite
file, whatever the suite runs on.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import sqlite3
import time
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from tests.conftest import require_service
from tests.quickstart.processes import Running, free_port, listening
from tests.quickstart.project import (
    README,
    Project,
    base_env,
    commands,
    isolate,
    readme_blocks,
    start_project,
)
from tests.tracking.conftest import REDIS_BROKER

pytestmark = [pytest.mark.redis, pytest.mark.broker]

#: Applied to the project, in README order (the store choice used end to end is Redis).
APPLIED = [
    "settings",
    "store-redis",
    "urls",
    "celery-app",
    "celery-init",
    "celery-settings",
    "view",
    "template",
    "page-settings",
    "page-urls",
]
#: Checked as alternatives, each in a settings module of its own.
ALTERNATIVES = ["store-cache", "store-none", "celery-eager"]
#: Run as commands or in ``manage.py shell``.
RUN = ["install", "run", "experiment", "worker"]
DEAD_BROKER = "redis://127.0.0.1:1/0"


def _require(url: str) -> None:
    parsed = urlparse(url)
    require_service("Redis", parsed.hostname or "127.0.0.1", parsed.port or 6379)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    env = base_env()
    _require(env["REDIS_URL"])
    _require(REDIS_BROKER)
    env["CELERY_BROKER_URL"] = REDIS_BROKER
    blocks = readme_blocks()
    project = start_project(tmp_path_factory.mktemp("quickstart"), env)
    for name in APPLIED:
        project.apply(blocks[name])
    isolate(project)
    project.run_block(blocks["run"])
    project.shell(blocks["experiment"])
    yield project


def _settings_variant(project: Project, name: str, *snippets: str) -> str:
    """``mysite/settings_<name>.py``: the project's settings plus README alternatives."""
    blocks = readme_blocks()
    code = ["from mysite.settings import *  # noqa: F403"]
    for snippet in snippets:
        first, _, rest = blocks[snippet].code.partition("\n")
        assert first == "# mysite/settings.py: add at the end", first
        code.append(rest)
    (project.root / "mysite" / f"settings_{name}.py").write_text("\n\n".join(code))
    return f"mysite.settings_{name}"


def _check_ids(output: str) -> list[str]:
    return re.findall(r"\(([\w.]+\.[CEW]\d+)\)", output)


def test_every_quickstart_snippet_is_exercised() -> None:
    assert sorted(readme_blocks()) == sorted(APPLIED + ALTERNATIVES + RUN)


def test_install_line_is_a_path_or_wheel_install_of_this_distribution() -> None:
    """The venv running this test has the package from a path (editable); the README's
    lines install the same distribution by path and as the wheel it builds."""
    lines = commands(readme_blocks()["install"])
    assert lines[0] == ["python", "-m", "pip", "install", "/path/to/django_experiments"]
    assert lines[1][:4] == ["python", "-m", "pip", "wheel"]
    pyproject = (README.parent / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE)
    assert version is not None
    assert lines[2][-1] == f"dist/dj_experiments-{version[1]}-py3-none-any.whl"


def test_check_deploy_shows_only_the_documented_warnings(project: Project) -> None:
    output = project.outputs["python manage.py check --deploy"]
    found = set(_check_ids(output))
    text = README.read_text()
    section = text[text.index("<!-- quickstart:run -->") : text.index("<!-- quickstart:exp")]
    documented = set(re.findall(r"`(security\.W\d+)`", section))
    assert found, output  # startproject's development settings do trip Django's own checks
    assert found <= documented, f"undocumented: {sorted(found - documented)}\n{output}"
    assert not [i for i in found if i.startswith("django_experiments")], output
    assert "ERRORS" not in output


def test_migrate_created_the_tables(project: Project) -> None:
    with sqlite3.connect(project.root / "db.sqlite3") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"django_experiments_experiment", "django_experiments_trackedevent"} <= tables


#: Checks (any warning fails), then three visits by one visitor, printing what they saw.
VISITS = """
from django.core.management import call_command
from django.test import Client

call_command("check", fail_level="WARNING")
visitor = Client(HTTP_HOST="localhost")
for _ in range(3):
    response = visitor.get("/")
    assert response.status_code == 200, response.status_code
    print(response.content.decode())
"""


@pytest.mark.parametrize("store", ["store-cache", "store-none"])
def test_the_other_store_choices_pass_the_checks_and_serve(project: Project, store: str) -> None:
    # Eager, so the events need no worker here (the worker test covers delivery).
    settings = _settings_variant(project, store.replace("-", "_"), store, "celery-eager")
    before = len(_events(project))
    output = project.manage("shell", "-c", VISITS, "--settings", settings)
    variants = set(re.findall(r'class="cta-(\w+)"', output))
    assert len(variants) == 1 and variants <= {"control", "candidate"}, output
    rows = _events(project)[before:]
    assert sorted(r[0] for r in rows) == ["assignment", "viewed", "viewed", "viewed"], output
    assert {r[2] for r in rows} == variants


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


def _events(project: Project) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(project.root / "db.sqlite3", timeout=10) as db:
        return list(
            db.execute(
                "SELECT event, experiment, variant, key FROM django_experiments_trackedevent "
                "ORDER BY id"
            )
        )


def _variant(page: str) -> str:
    match = re.search(r'class="cta-(\w+)"', page)
    assert match, page
    return match[1]


def test_page_events_reach_the_database_through_a_real_worker(project: Project) -> None:
    worker_cmd, beat_cmd = commands(readme_blocks()["worker"])
    port = free_port()
    before = len(_events(project))
    started: list[Running] = []
    try:
        worker = Running("worker", project.popen(worker_cmd))
        started.append(worker)
        beat = Running("beat", project.popen(beat_cmd))
        started.append(beat)
        server = Running(
            "runserver",
            project.popen(["python", "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]),
        )
        started.append(server)
        worker.wait_for(" ready.", timeout=60)
        server.until(lambda: listening(port), "listening port", timeout=30)

        visitor = _opener()
        pages = [
            visitor.open(f"http://127.0.0.1:{port}/", timeout=10).read().decode() for _ in range(2)
        ]
        variants = {_variant(page) for page in pages}
        assert len(variants) == 1, pages  # the cookie keeps the visitor on one variant
        [variant] = variants
        assert variant in ("control", "candidate")
        label = "Start your free trial" if variant == "candidate" else "Sign up"
        copy = "New copy" if variant == "candidate" else "Old copy"
        assert all(label in page and copy in page for page in pages), pages

        api = visitor.open(f"http://127.0.0.1:{port}/experiments/assignments/?experiments=cta")
        assert api.status == 200 and api.headers["Content-Type"].startswith("application/json")
        json.loads(api.read())

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = _events(project)[before:]
            if sorted(r[0] for r in rows) == ["assignment", "viewed", "viewed"]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(
                f"events did not land: {_events(project)[before:]}\nserver:\n{server.output}\n"
                f"worker:\n{worker.output}"
            )
        assert {(r[1], r[2]) for r in rows} == {("cta", variant)}
        assert len({r[3] for r in rows}) == 1  # one visitor, one context key
        assert "django_experiments.tracking.deliver" in worker.output
        assert "succeeded" in worker.output
        # Beat runs the outbox drain the worker knows.
        assert "django_experiments.tracking.drain_outbox" in worker.output
        beat.wait_for("beat: Starting...", timeout=15)
    finally:
        for process in reversed(started):
            process.stop()
    assert "Traceback" not in worker.output + server.output + beat.output


def test_eager_mode_delivers_in_the_request_without_a_broker(project: Project) -> None:
    settings = _settings_variant(project, "eager", "celery-eager")
    before = len(_events(project))
    script = (
        "from django.test import Client\n"
        "response = Client().get('/', HTTP_HOST='localhost')\n"
        "assert response.status_code == 200, response.status_code\n"
        "print(response.content.decode())\n"
    )
    output = project.manage(
        "shell", "-c", script, "--settings", settings, CELERY_BROKER_URL=DEAD_BROKER
    )
    variant = re.search(r'class="cta-(\w+)"', output)
    assert variant, output
    rows = _events(project)[before:]
    assert sorted(r[0] for r in rows) == ["assignment", "viewed"], output
    assert {(r[1], r[2]) for r in rows} == {("cta", variant[1])}
