"""Notify's HTTP clients against real servers on 127.0.0.1: what an attempt comes to when the
receiver is slow, silent, rude or verbose, and that waiting for a free connection is not held
against the receiver."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import pytest
from fastapi import FastAPI, Request, Response

from tests.support.apps import serving
from warden.notify.http_clients import (
    MAX_ANSWER_BYTES,
    ConnectError,
    HttpClients,
    ProtocolError,
    ResponseTimeout,
)


def receiver(delay_s: float = 0.0, answer: bytes = b"", status: int = 204) -> FastAPI:
    app = FastAPI()
    app.state.seen = []

    @app.post("/{path:path}")
    async def receive(path: str, request: Request) -> Response:
        app.state.seen.append((request.headers.get("x-n"), await request.body()))
        if delay_s:
            await asyncio.sleep(delay_s)
        return Response(content=answer, status_code=status)

    return app


@contextlib.asynccontextmanager
async def clients(**kwargs):
    http = HttpClients(**{"connections": 4, "timeout_s": 2.0, **kwargs})
    try:
        yield http
    finally:
        await http.aclose()


async def test_a_post_gets_the_status_and_the_body_the_receiver_sent():
    app = receiver(answer=b'{"ok": true}', status=202)
    async with serving(app, lifespan="off") as base, clients() as http:
        answer = await http.post(f"{base}/hooks", b'{"a": 1}', {"x-n": "1"})
    assert (answer.status, answer.json()) == (202, {"ok": True})
    assert app.state.seen == [("1", b'{"a": 1}')]


async def test_waiting_for_a_free_connection_does_not_count_against_the_receiver():
    """One connection, a receiver that takes 0.6 s, a 1 s timeout: the third of three sends
    waits 1.2 s for the connection and still gets its answer."""
    app = receiver(delay_s=0.6)
    async with serving(app, lifespan="off") as base, \
            clients(connections=1, timeout_s=1.0) as http:
        started = time.monotonic()
        answers = await asyncio.gather(*(http.post(f"{base}/hooks", b"{}", {"x-n": str(i)})
                                         for i in range(3)))
        took = time.monotonic() - started
    assert [a.status for a in answers] == [204, 204, 204]
    assert took >= 1.8  # one at a time: the connection limit holds


async def test_a_receiver_that_does_not_answer_in_time_is_a_timeout():
    async with serving(receiver(delay_s=5), lifespan="off") as base, \
            clients(timeout_s=0.5) as http:
        started = time.monotonic()
        with pytest.raises(ResponseTimeout, match="no answer within 0.5 s"):
            await http.post(f"{base}/hooks", b"{}", {})
        assert time.monotonic() - started < 2.0


async def test_nobody_listening_is_a_connect_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    async with clients() as http:
        with pytest.raises(ConnectError):
            await http.post(f"http://127.0.0.1:{port}/hooks", b"{}", {})


async def test_a_receiver_that_hangs_up_without_answering_is_a_protocol_error():
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with clients() as http:
            with pytest.raises(ProtocolError):
                await http.post(f"http://127.0.0.1:{port}/hooks", b"{}", {})
    finally:
        server.close()
        await server.wait_closed()


async def test_a_long_answer_is_cut_and_the_next_request_still_works():
    app = receiver(answer=b"x" * (MAX_ANSWER_BYTES * 3), status=200)
    async with serving(app, lifespan="off") as base, clients() as http:
        first = await http.post(f"{base}/hooks", b"{}", {})
        second = await http.post(f"{base}/hooks", b"{}", {})
    assert len(first.body) == MAX_ANSWER_BYTES and first.json() is None
    assert second.status == 200
