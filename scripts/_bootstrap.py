"""Shared set-up for scripts/demo and scripts/test: a venv with the project installed.

Standard library only, so a fresh machine needs nothing but Python 3.10+ and git.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("GLEX_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_venv(extras: str = "") -> Path:
    """Create the venv and (re)install the project when pyproject.toml changed."""
    if sys.version_info < (3, 10):  # noqa: UP036 - runs before the venv, on any Python
        sys.exit(f"Python 3.10+ is required, this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"==> creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = f".[{extras}]" if extras else "."
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + spec.encode()).hexdigest()
    stamp = VENV / f".installed-{digest[:16]}"
    if not stamp.exists():
        print(f"==> installing {spec} (editable)", flush=True)
        subprocess.run(
            [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", spec],
            cwd=ROOT,
            check=True,
        )
        for old in VENV.glob(".installed-*"):
            old.unlink()
        stamp.touch()
    return PYTHON


def run(*args: str, env: dict[str, str] | None = None) -> int:
    return subprocess.run([str(PYTHON), *args], cwd=ROOT, env=env).returncode
