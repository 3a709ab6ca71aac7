"""A brand-new ``django-admin startproject`` with README.md's quick-start snippets applied.

The snippets come from README.md itself (blocks marked ``<!-- quickstart:NAME -->``). Each
snippet's first line says where it goes, and that is all this module reads:

* ``# mysite/settings.py: add at the end``: appended to that file;
* ``# mysite/celery.py`` or ``{# mysite/templates/landing.html #}``: the file's content;
* ``# python manage.py shell``: run with ``manage.py shell -c``;
* ``bash`` blocks: one command per line (``#`` starts a comment).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.markdown_blocks import Block, marked_blocks

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PROJECT = "mysite"
#: The interpreter's bin directory: ``python``, ``django-admin`` and ``celery`` of the test venv
#: (the package is installed there, editable; the quick start's install step is that).
BIN = Path(sys.executable).parent

TARGET = re.compile(
    r"^(?:#|\{#)\s*(?P<path>[\w./-]+\.\w+)(?P<append>: add at the end)?\s*(?:#\})?$"
)
SHELL = "# python manage.py shell"


def readme_blocks() -> dict[str, Block]:
    return marked_blocks(README, "quickstart")


def commands(block: Block) -> list[list[str]]:
    """A bash block's commands, comments and blank lines dropped."""
    assert block.lang == "bash", block.name
    lines = (line.split("#", 1)[0].strip() for line in block.code.splitlines())
    return [shlex.split(line) for line in lines if line]


@dataclass
class Project:
    root: Path
    env: dict[str, str]
    applied: list[str] = field(default_factory=list)
    #: Output of each command run through ``run_block``, by command line.
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Path:
        return self.root / PROJECT / "settings.py"

    def apply(self, block: Block) -> None:
        """Put a python/django snippet where its first line says."""
        first = block.code.splitlines()[0]
        match = TARGET.match(first)
        assert match, f"quickstart:{block.name} does not start with its target file: {first!r}"
        path = self.root / match["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        if match["append"]:
            assert path.exists(), f"quickstart:{block.name} appends to a missing {path}"
            with path.open("a") as f:
                f.write("\n\n" + block.code)
        else:
            path.write_text(block.code)
        self.applied.append(block.name)

    def append_settings(self, code: str) -> None:
        with self.settings.open("a") as f:
            f.write("\n\n" + code)

    def run(self, argv: list[str], timeout: float = 60, **kwargs: str) -> str:
        """Run a command in the project (``python``/``celery`` from the test venv)."""
        env = {**self.env, **kwargs}
        result = subprocess.run(
            argv,
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, (
            f"{shlex.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
        return result.stdout + result.stderr

    def manage(self, *args: str, timeout: float = 60, **env: str) -> str:
        return self.run(["python", "manage.py", *args], timeout=timeout, **env)

    def run_block(self, block: Block) -> None:
        """Run a bash snippet's commands in order, keeping each one's output."""
        for argv in commands(block):
            self.outputs[shlex.join(argv)] = self.run(argv)

    def shell(self, block: Block) -> str:
        assert block.code.startswith(SHELL), f"quickstart:{block.name} is not a shell snippet"
        return self.manage("shell", "-c", block.code)

    def popen(self, argv: list[str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            argv,
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: stop it and its children only
        )


def base_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # The suite's own settings must not leak into the new project.
        if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "CELERY_BROKER_URL")
    }
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    return env


def start_project(tmp: Path, env: dict[str, str]) -> Project:
    subprocess.run(
        ["django-admin", "startproject", PROJECT],
        cwd=tmp,
        env=env,
        check=True,
        timeout=60,
    )
    return Project(tmp / PROJECT, env)


def isolate(project: Project) -> None:
    """Test-harness lines, not README advice: this run's own queue and cache keys, because
    other checkouts on this machine share the broker database and Redis."""
    run_id = uuid.uuid4().hex[:12]
    project.append_settings(
        "# --- added by tests/quickstart: isolation from other runs on shared services ---\n"
        f'CELERY_TASK_DEFAULT_QUEUE = "quickstart-{run_id}"\n'
        f'CACHES["default"]["KEY_PREFIX"] = "quickstart-{run_id}"\n'
    )
