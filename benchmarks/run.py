"""One command for every benchmark: ``python -m benchmarks [--quick]`` from the repo root.

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
        default="1,2,6,7,3,4,5,8,9",
        help="comma-separated sections to run (default: all)",
    )
    parser.add_argument(
        "--output",
        default=str(ROOT / "docs" / "performance.md"),
        help="where to write the markdown report ('-' for nowhere)",
    )
    args = parser.parse_args(argv)
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
        sections=[s.strip() for s in args.only.split(",") if s.strip()],
        output=None if args.output == "-" else Path(args.output),
        command="python -m benchmarks" + (" --quick" if args.quick else ""),
    )
    print(f"\ntotal time {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
