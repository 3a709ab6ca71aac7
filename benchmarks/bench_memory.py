"""Section 6: Redis bytes per stored assignment, this layout vs gitlab-experiment's + options.

Each layout stores 100,000 assignments (90 % control / 10 % candidate, like "cta") and the
figure is ``MEMORY USAGE <key> SAMPLES 0`` (exact) summed over the layout's keys / 100,000.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks import profiling
from benchmarks.report import Report, Row, ratio

FIELDS = 100_000
BUDGET = 64.0
VARIANTS = ("control", "candidate")
SECRET = b"benchmarks-memory"


@dataclass(frozen=True)
class Layout:
    label: str
    #: (hash key, field, value) for assignment number i
    entry: Callable[[int], tuple[str, bytes, bytes]]
    ours: bool = False


def _digest(i: int) -> bytes:
    return hmac.digest(SECRET, f"cta\x1d{i}".encode(), "sha256")


def _variant(i: int) -> str:
    return VARIANTS[0] if i % 10 else VARIANTS[1]


def _index(i: int) -> bytes:
    return b"0" if i % 10 else b"1"


STORE_BUCKETS = 4096


def _store_layout(buckets: int) -> Callable[[int], tuple[str, bytes, bytes]]:
    """The real RedisHashStore's key layout (hash name per context key) for ``buckets``."""
    from django_experiments.engine.stores import RedisHashStore

    store = RedisHashStore(alias="store", prefix="glexbench:mem", buckets=buckets)

    def entry(i: int) -> tuple[str, bytes, bytes]:
        key = _digest(i).hex()[:32]
        return store.hash_key(f"ours{buckets}", key), key.encode(), _variant(i).encode()

    return entry


def layouts(buckets: int) -> list[Layout]:
    base = "glexbench:mem"
    return [
        Layout(
            f"this project, STORE_BUCKETS={STORE_BUCKETS}: 32-hex field, variant name",
            _store_layout(STORE_BUCKETS),
            ours=True,
        ),
        Layout(
            "this project, default (STORE_BUCKETS=0): 1 hash, 32-hex field, variant name",
            _store_layout(0),
        ),
        Layout(
            "gitlab-experiment: 1 hash, 64-hex field, variant name",
            lambda i: (f"{base}:gitlab", _digest(i).hex().encode(), _variant(i).encode()),
        ),
        Layout(
            "option A: 1 hash, 16-byte binary field, variant name",
            lambda i: (f"{base}:bin", _digest(i)[:16], _variant(i).encode()),
        ),
        Layout(
            "option B: 1 hash, 16-byte binary field, 1-byte variant index",
            lambda i: (f"{base}:binidx", _digest(i)[:16], _index(i)),
        ),
        Layout(
            f"option C: {buckets} listpack buckets, 32-hex field, variant name",
            lambda i: (
                f"{base}:bk:{int.from_bytes(_digest(i)[:4], 'big') % buckets}",
                _digest(i).hex()[:32].encode(),
                _variant(i).encode(),
            ),
        ),
        Layout(
            f"option D: {buckets} listpack buckets, 16-byte field, 1-byte index",
            lambda i: (
                f"{base}:bki:{int.from_bytes(_digest(i)[:4], 'big') % buckets}",
                _digest(i)[:16],
                _index(i),
            ),
        ),
    ]


def bytes_per_assignment(redis: Any, layout: Layout, fields: int) -> tuple[float, str]:
    keys: set[str] = set()
    pipe = redis.pipeline(transaction=False)
    for i in range(fields):
        key, field, value = layout.entry(i)
        keys.add(key)
        pipe.hset(key, field, value)
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    total = 0
    encodings: set[str] = set()
    pipe = redis.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
        pipe.object("encoding", key)
    results = pipe.execute()
    for usage, encoding in zip(results[::2], results[1::2], strict=True):
        total += int(usage)
        encodings.add(encoding.decode() if isinstance(encoding, bytes) else str(encoding))
    redis.delete(*keys)
    return total / fields, "/".join(sorted(encodings))


def run(report: Report, quick: bool) -> dict[str, float]:
    from benchmarks.bench_redis import client

    redis = client()
    limit = int(redis.config_get("hash-max-listpack-entries").get("hash-max-listpack-entries", 128))
    # Enough buckets that each stays a listpack (~half the server's entry limit on average).
    buckets = max(1, FIELDS * 2 // limit)
    figures: dict[str, float] = {}
    gitlab = 0.0
    for layout in layouts(buckets):
        per, encoding = bytes_per_assignment(redis, layout, FIELDS)
        figures[layout.label] = per
        if layout.label.startswith("gitlab"):
            gitlab = per
    for layout in layouts(buckets):
        per = figures[layout.label]
        report.add(
            Row(
                "6",
                f"Redis bytes / assignment — {layout.label}",
                f"{per:.1f} B",
                f"gitlab layout {gitlab:.1f} B" if not layout.label.startswith("gitlab") else "—",
                ratio(per, gitlab) if not layout.label.startswith("gitlab") else "—",
                f"≤ {BUDGET:g} B" if layout.ours else "(alternative)",
                per <= BUDGET if layout.ours else None,
            )
        )
    ours = next(figures[lay.label] for lay in layouts(buckets) if lay.ours)
    if ours > BUDGET:
        report.findings.append(_finding(figures, buckets, limit))
    report.notes.append(
        f"Section 6: {FIELDS:,} assignments per layout, MEMORY USAGE SAMPLES 0 summed over the "
        f"layout's keys; the server's hash-max-listpack-entries is {limit}, so the bucketed "
        f"options use {buckets} hashes per experiment (~{FIELDS // buckets} fields each)."
    )
    return figures


def _finding(figures: dict[str, float], buckets: int, limit: int) -> str:
    from django_experiments.engine.context import KEY_LENGTH, key_for
    from django_experiments.engine.stores import RedisHashStore

    lines = [f"- {label}: {per:.1f} B" for label, per in figures.items()]
    return "\n".join(
        [
            "### 6. Redis memory per assignment",
            "",
            f"One hash per experiment with {FIELDS:,} fields is a Redis `hashtable`: each "
            "field pays a dict entry, two SDS allocations and a bucket pointer, so the key "
            "and value bytes are the smaller part. Measured:",
            "",
            *lines,
            "",
            f"- Shrinking the field alone (`{profiling.where(key_for)}` `key_for`, "
            f"{KEY_LENGTH} hex characters → 16 raw bytes) or the value (variant index) "
            "does not reach 64 B while the hash is a hashtable.",
            f"- Proposal (engine owners: `{profiling.where(RedisHashStore)}` RedisHashStore): "
            "bucket each experiment's assignments into small hashes that stay listpack-encoded "
            f"(`hash-max-listpack-entries` is {limit} here), e.g. "
            "`<prefix>:<experiment>:<first 3 hex of the key>` (4,096 buckets: listpack up to "
            f"~{4096 * limit // 2:,} assignments per experiment at this server's limit), "
            "field = the 32-hex key (or 16 raw bytes), value = the variant name (or index). "
            f"Option C keeps today's field/value format: {figures[_label('C', figures)]:.1f} B; "
            f"option D: {figures[_label('D', figures)]:.1f} B. HGET/HSET stay one round trip "
            "(the bucket is derived from the key); clearing an experiment becomes a DEL of "
            "its enumerable bucket keys (or keep the store generation bump).",
        ]
    )


def _label(option: str, figures: dict[str, float]) -> str:
    return next(label for label in figures if label.startswith(f"option {option}:"))
