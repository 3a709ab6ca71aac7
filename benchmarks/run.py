"""One command for every benchmark: ``python -m benchmarks [--quick]`` from the repo root.

``--only 4`` (or ``--section 4``) runs the listed sections alone; such a partial run prints
its table but leaves docs/performance.md (the report of every section) as it is, unless
``--output`` names a file.

Sections run in one process, side by side (the full-stack and tracking sections start their
own gunicorn / Celery worker subprocesses on 127.0.0.1 and stop them). Prints the table and
regenerates docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # ``python benchmarks/run.py`` works too
    sys.path.insert(0, str(ROOT))


ALL_SECTIONS = "1,2,6,7,3,4,5,8,9"


def _sections(spec: str) -> list[str]:
    return [s.strip() for s in spec.split(",") if s.strip()]


def default_output(only: str) -> str:
    """docs/performance.md for a run of every section; nowhere ('-') for a partial run."""
    full = sorted(_sections(only)) == sorted(_sections(ALL_SECTIONS))
    return str(ROOT / "docs" / "performance.md") if full else "-"


def _setup_django(workdir: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    os.environ["BENCH_DB"] = str(workdir / "bench.sqlite3")
    os.environ.setdefault("BENCH_TRACKING_QUEUE", f"glex-bench-{os.getpid()}")
    import django

    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about one minute, fewer repeats")
    parser.add_argument(
        "--only",
        "--section",
        default=ALL_SECTIONS,
        help="comma-separated sections to run (default: all)",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="where to write the markdown report ('-' for nowhere; default: "
        "docs/performance.md for a run of every section, nowhere for a partial one)",
    )
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = default_output(args.only)
    workdir = Path(tempfile.mkdtemp(prefix="glex-bench-"))
    try:
        return _run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, workdir: Path) -> int:
    _setup_django(workdir)

    from benchmarks import suite

    started = time.monotonic()
    code = suite.run_all(
        quick=args.quick,
        sections=_sections(args.only),
        output=None if args.output == "-" else Path(args.output),
        command=_command(args),
    )
    print(f"\ntotal time {time.monotonic() - started:.0f} s")
    return code


def _command(args: argparse.Namespace) -> str:
    words = ["python -m benchmarks"]
    if args.quick:
        words.append("--quick")
    if default_output(args.only) == "-":
        words.append(f"--only {args.only}")
    return " ".join(words)


if __name__ == "__main__":
    sys.exit(main())
