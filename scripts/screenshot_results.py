#!/usr/bin/env python3
"""Regenerate docs/img/results.png: the demo, simulated traffic, the admin results page.

A fresh SQLite demo database in a temporary directory, ``seed_demo``, then
``simulate_traffic cta --visitors 5000 --lift 0.05`` (the real API, eager Celery and the
database sink), ``runserver`` on a free port, and a headless Chromium (Playwright driving the
system's ``/usr/bin/chromium``; ``pip install playwright``, no browser download) that logs in
as admin/admin and captures the whole page.

    .venv/bin/python scripts/screenshot_results.py [--output docs/img/results.png]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default=str(ROOT / "docs" / "img" / "results.png"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--visitors", default="5000")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="glex-shot-") as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            "SQLITE_PATH": str(Path(tmp) / "demo.sqlite3"),
            "DJANGO_DEBUG": "1",
        }
        for key in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
            env.pop(key, None)  # the embedded demo: SQLite, locmem, eager Celery
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo")
        manage(
            env,
            "simulate_traffic",
            "cta",
            "--visitors",
            args.visitors,
            "--lift",
            "0.05",
            "--rate",
            "0.12",
            "--seed",
            "1",
        )
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"{base}/admin/login/?next=/admin/")
                page.fill("#id_username", "admin")
                page.fill("#id_password", "admin")
                page.click("input[type=submit]")
                page.goto(f"{base}/admin/django_experiments/experiment/")
                page.click("text=cta")
                page.click("text=Results (current phase)")
                page.wait_for_selector("#glex-summary")
                Path(args.output).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.output, full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
