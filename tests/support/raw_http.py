"""A client that leaves mid-body, on a raw socket (HTTP clients read what they asked for)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from urllib.parse import urlsplit


def leave_mid_body(
    base_url: str,
    target: str,
    received_bytes: int,
    *,
    range_header: str | None = None,
    meanwhile: Callable[[], None] | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """``GET target`` from the server at ``base_url``, read at least ``received_bytes`` of the
    answer, run ``meanwhile`` (the server is mid-body then), and close the connection without
    reading the rest. Blocking: run it in a thread."""
    port = urlsplit(base_url).port
    request = f"GET {target} HTTP/1.1\r\nHost: x\r\n"
    if range_header is not None:
        request += f"Range: {range_header}\r\n"
    for name, value in (headers or {}).items():
        request += f"{name}: {value}\r\n"
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"{request}\r\n".encode())
        received = 0
        while received < received_bytes:
            received += len(sock.recv(65536))
        if meanwhile is not None:
            meanwhile()
