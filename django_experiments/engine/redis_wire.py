"""Several Redis commands in one round trip on a redis-py client's own pooled connection.

Why not ``client.pipeline()``: on every call it builds a Pipeline object, a command stack and
a retry wrapper, and runs a response callback per command. On the request path (a new
visitor's writes, a returning visitor's multi-read) that cost about as much CPU as the round
trip itself (docs/performance.md, "Where a request's time goes"). This is the same pool, the
same packer and the same parser that redis-py's pipeline uses, one layer down: replies come
back as Redis sent them (bytes, integers, None), without redis-py's per-command callbacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import ResponseError


def round_trip(client: Any, commands: Sequence[Sequence[Any]]) -> list[Any]:
    """Send ``commands`` in one write, read their replies in order; raise on any error.

    A command that Redis refuses (an error reply) raises after every reply was read, so the
    connection stays usable. Anything else that goes wrong (a dead socket, a timeout) drops
    the connection rather than return a half-read one to the pool. The pool itself replaces a
    pooled connection that the server closed (``ConnectionPool.get_connection``).
    """
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command(connection.pack_commands(commands), check_health=False)
        replies: list[Any] = []
        refused: ResponseError | None = None
        for _ in commands:
            try:
                replies.append(connection.read_response())
            except ResponseError as exc:
                refused = refused or exc
                replies.append(exc)
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
    if refused is not None:
        raise refused
    return replies
