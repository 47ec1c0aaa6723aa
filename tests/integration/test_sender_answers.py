"""What the sender makes of answers that break off: a 2xx is success whatever happens to its body."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator

import pytest

from jobs import sender
from tests.support.sinks import Reply, Sink

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


@pytest.fixture
def broken_answer() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback server that answers each request with the status line queued in ``statuses``, announces a
    100-byte body, sends 2 bytes and closes: the response body cannot be read in full."""
    listener = socket.create_server(("127.0.0.1", 0))
    statuses: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                status = statuses.pop(0) if statuses else b"200 OK"
                conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 100\r\n\r\nok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook", statuses
    # close() alone does not wake a thread blocked in accept() on Linux (the join then waited its 5 s): shutdown does.
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def post(address: str) -> sender.AttemptResult:
    request = sender.Request(
        hook_id="read-test",
        address=address,
        body=b"{}",
        content_type="application/json",
        connect_timeout=2,
        read_timeout=2,
        allowed_networks=LOOPBACK,
    )
    return sender.send(request)


def test_a_2xx_whose_body_breaks_off_is_success(broken_answer: tuple[str, list[bytes]]) -> None:
    address, statuses = broken_answer
    statuses.append(b"200 OK")
    result = post(address)
    assert result.succeeded, result
    assert (result.status_code, result.error_class) == (200, "")
    assert "response body unreadable" in result.error_message


def test_another_status_whose_body_breaks_off_is_a_read_error(broken_answer: tuple[str, list[bytes]]) -> None:
    address, statuses = broken_answer
    statuses.append(b"404 Not Found")
    result = post(address)
    assert not result.succeeded
    assert (result.status_code, result.error_class) == (404, "read_error")


def test_a_cookie_a_target_sets_is_never_sent_back_with_any_delivery(sink: Sink) -> None:
    """The sender's keep-alive session is shared by every policy's deliveries to a host: a cookie one target set
    would go along with another policy's (another tenant's) deliveries there, so none is kept."""
    sink.respond = lambda _: Reply(headers={"Set-Cookie": "session=tenant-a-secret; Path=/"})
    for hook_id in ("tenant-a", "tenant-b"):
        request = sender.Request(
            hook_id=hook_id,
            address=sink.url,
            body=b"{}",
            content_type="application/json",
            allowed_networks=LOOPBACK,
        )
        assert sender.send(request).succeeded
    _first, second = sink.wait_for(2)
    assert "cookie" not in {name.lower() for name in second.headers}, second.headers
    assert sender.session(LOOPBACK).cookies.keys() == []
