"""What the sender makes of answers that break off: a 2xx is success whatever happens to its body."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator

import pytest

from jobs import sender

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
    listener.close()
    thread.join(timeout=5)


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
