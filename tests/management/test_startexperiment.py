"""``manage.py startexperiment``: class, test skeleton, optional draft row, never overwriting."""

from __future__ import annotations

import importlib
import os
import pty
import subprocess
import sys
import unittest
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_experiments.engine.registry import registered
from django_experiments.testing import isolated_registry

RUFF = Path(sys.executable).parent / "ruff"


@pytest.fixture
def shop_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[Path]:
    """A real, importable, installed app in a temporary directory."""
    package = tmp_path / "shopapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "shopapp"]
    with isolated_registry():
        yield package
    for name in [m for m in sys.modules if m == "shopapp" or m.startswith("shopapp.")]:
        del sys.modules[name]


def run(*args: str) -> str:
    out = StringIO()
    call_command("startexperiment", *args, stdout=out)
    return out.getvalue()


def _ruff_clean(*paths: Path) -> None:
    if not RUFF.exists():  # pragma: no cover - ruff is a test dependency
        return
    result = subprocess.run(
        [str(RUFF), "check", "--no-cache", "--select", "E,F,W,I,UP,B", *map(str, paths)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_writes_an_importable_registered_class_and_a_passing_test(shop_app: Path) -> None:
    output = run("signup_cta", "--app", "shopapp", "--no-input")
    experiments = shop_app / "experiments.py"
    test_file = shop_app / "tests" / "test_signup_cta_experiment.py"
    assert f"Wrote SignupCtaExperiment to {experiments}" in output
    assert test_file.exists()
    assert (shop_app / "tests" / "__init__.py").exists()
    _ruff_clean(experiments, test_file)

    module = importlib.import_module("shopapp.experiments")
    cls = module.SignupCtaExperiment
    assert registered()["signup_cta"] is cls
    assert cls(actor="u").behaviors["control"]() == "control"
    assert cls(actor="u").behaviors["candidate"]() == "candidate"

    tests = unittest.defaultTestLoader.loadTestsFromModule(
        importlib.import_module("shopapp.tests.test_signup_cta_experiment")
    )
    result = unittest.TestResult()
    tests.run(result)
    assert result.testsRun == 2
    assert result.wasSuccessful(), result.errors + result.failures


def test_named_variants_always_include_control(shop_app: Path) -> None:
    run("pill_color", "red", "blue-2", "--app", "shopapp", "--no-input")
    module = importlib.import_module("shopapp.experiments")
    assert list(module.PillColorExperiment._class_behaviors) == ["control", "red", "blue-2"]
    _ruff_clean(shop_app / "experiments.py")


def test_appends_to_an_existing_module_and_adds_missing_imports(shop_app: Path) -> None:
    existing = (
        '"""Shop experiments."""\n\n'
        "from __future__ import annotations\n\n"
        "from django_experiments import Experiment, register\n\n\n"
        "@register\n"
        "class OldExperiment(Experiment):\n"
        '    name = "old"\n'
    )
    (shop_app / "experiments.py").write_text(existing)
    run("new_one", "--app", "shopapp", "--no-input")
    source = (shop_app / "experiments.py").read_text()
    assert source.startswith(existing.split("from django_experiments")[0])
    assert "from django_experiments import Experiment, candidate, control, register\n" in source
    assert "class OldExperiment(Experiment):" in source
    assert "class NewOneExperiment(Experiment):" in source
    _ruff_clean(shop_app / "experiments.py")
    module = importlib.import_module("shopapp.experiments")
    assert {"old", "new_one"} <= set(registered())
    assert module.NewOneExperiment.name == "new_one"


def test_refuses_to_overwrite_an_existing_class(shop_app: Path) -> None:
    run("signup_cta", "--app", "shopapp", "--no-input")
    before = (shop_app / "experiments.py").read_text()
    with pytest.raises(CommandError, match="already defines SignupCtaExperiment"):
        run("signup_cta", "--app", "shopapp", "--no-input")
    (shop_app / "experiments.py").write_text(
        before + '\n\nclass Renamed(Experiment):\n    name = "other"\n'
    )
    with pytest.raises(CommandError, match="already defines Renamed for the experiment 'other'"):
        run("other", "--app", "shopapp", "--no-input")
    assert "class OtherExperiment" not in (shop_app / "experiments.py").read_text()


def test_existing_test_file_is_left_alone(shop_app: Path) -> None:
    (shop_app / "tests.py").write_text("# the app's tests\n")
    target = shop_app / "test_signup_cta_experiment.py"
    target.write_text("# mine\n")
    output = run("signup_cta", "--app", "shopapp", "--no-input")
    assert f"Left {target} alone" in output
    assert target.read_text() == "# mine\n"


@pytest.mark.django_db
def test_create_row_makes_a_draft_with_the_variants(shop_app: Path) -> None:
    from django_experiments.models import Experiment

    output = run("signup_cta", "red", "--app", "shopapp", "--create-row")
    row = Experiment.objects.get(name="signup_cta")
    assert row.status == "draft"
    treatments = list(row.treatments.order_by("order").values_list("name", "is_control"))
    assert treatments == [("control", True), ("red", False)]
    assert "Created the admin row 'signup_cta' (draft)" in output


@pytest.mark.django_db
def test_existing_row_is_left_unchanged(shop_app: Path, make_experiment: Any) -> None:
    make_experiment("signup_cta", status="running", control=1, candidate=3)
    output = run("signup_cta", "--app", "shopapp", "--create-row")
    assert "exists (running; treatments: candidate, control); left unchanged" in output


class _Terminal(StringIO):
    """Typed answers on what claims to be a terminal (the command asks only on a TTY)."""

    def isatty(self) -> bool:
        return True


@pytest.mark.django_db
def test_interactive_prompt_offers_the_row(shop_app: Path) -> None:
    from django_experiments.models import Experiment

    out = StringIO()
    call_command(
        "startexperiment", "signup_cta", "--app", "shopapp", stdin=_Terminal("y\n"), stdout=out
    )
    assert (
        "Create the admin row 'signup_cta' as a draft with variants control, candidate? [y/N] "
        in out.getvalue()
    )
    assert Experiment.objects.filter(name="signup_cta", status="draft").exists()


@pytest.mark.django_db
def test_end_of_input_at_the_prompt_is_no(shop_app: Path) -> None:
    from django_experiments.models import Experiment

    call_command(
        "startexperiment", "signup_cta", "--app", "shopapp", stdin=_Terminal(""), stdout=StringIO()
    )
    assert not Experiment.objects.exists()
    assert (shop_app / "experiments.py").exists()


@pytest.mark.django_db
def test_without_a_terminal_nothing_is_asked_and_no_row_is_made(shop_app: Path) -> None:
    from django_experiments.models import Experiment

    out = StringIO()
    call_command(
        "startexperiment", "signup_cta", "--app", "shopapp", stdin=StringIO("y\n"), stdout=out
    )
    assert "[y/N]" not in out.getvalue()
    assert "stdin is not a terminal" in out.getvalue()
    assert "--create-row" in out.getvalue()
    assert not Experiment.objects.exists()
    assert (shop_app / "experiments.py").exists()


def _command_in_subprocess(tmp_path: Path, shop_app: Path, stdin: Any) -> subprocess.Popen[str]:
    """``python -m django startexperiment`` in a real process, shopapp installed."""
    (tmp_path / "qs_settings.py").write_text(
        "from tests.settings import *  # noqa: F403\n"
        "INSTALLED_APPS = [*INSTALLED_APPS, 'shopapp']  # noqa: F405\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)]),
        "DJANGO_SETTINGS_MODULE": "qs_settings",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "django", "startexperiment", "signup_cta", "--app", "shopapp"],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )


@pytest.mark.parametrize("stdin", ["devnull", "pipe"])
def test_a_non_tty_stdin_in_a_real_process_does_not_prompt(
    tmp_path: Path, shop_app: Path, stdin: str
) -> None:
    """The bug: ``input()`` on a closed or piped stdin raised EOFError after writing files."""
    if stdin == "devnull":
        proc = _command_in_subprocess(tmp_path, shop_app, subprocess.DEVNULL)
        output, _ = proc.communicate(timeout=60)
    else:
        proc = _command_in_subprocess(tmp_path, shop_app, subprocess.PIPE)
        output, _ = proc.communicate("y\n", timeout=60)
    assert proc.returncode == 0, output
    assert "EOFError" not in output and "[y/N]" not in output
    assert "No admin row created: stdin is not a terminal" in output
    assert (shop_app / "experiments.py").exists()


def test_a_real_terminal_gets_the_question(tmp_path: Path, shop_app: Path) -> None:
    controller, terminal = pty.openpty()
    try:
        proc = _command_in_subprocess(tmp_path, shop_app, terminal)
        os.write(controller, b"n\n")
        output, _ = proc.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 0, output
    assert "as a draft with variants control, candidate? [y/N]" in output
    assert "stdin is not a terminal" not in output


@pytest.mark.django_db
def test_no_input_creates_no_row(shop_app: Path) -> None:
    from django_experiments.models import Experiment

    run("signup_cta", "--app", "shopapp", "--no-input")
    assert not Experiment.objects.exists()


def test_bad_names_and_apps_are_errors(shop_app: Path) -> None:
    with pytest.raises(CommandError, match="not a valid experiment name"):
        run("bad name!", "--app", "shopapp", "--no-input")
    with pytest.raises(CommandError, match="not a valid variant name"):
        run("ok", "bad variant", "--app", "shopapp", "--no-input")
    with pytest.raises(CommandError, match="No installed app with label 'nope'"):
        run("ok", "--app", "nope", "--no-input")
    with pytest.raises(CommandError, match=r"Pass --app .*local apps: .*shopapp"):
        run("ok", "--no-input")
    assert not (shop_app / "experiments.py").exists()
