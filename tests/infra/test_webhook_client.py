"""The outbound webhook client: Standard Webhooks signatures, capped reads, no redirects."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import standardwebhooks

from infra.webhook_client import MAX_RESPONSE_BYTES, WebhookClient, new_secret, sign


def test_signatures_verify_with_the_standard_webhooks_library_for_each_secret() -> None:
    old, new = new_secret(), new_secret()
    body = b'{"type":"webhook.test"}'
    timestamp = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign([new, old], "msg_1", timestamp, body),
    }

    for secret in (old, new):
        assert standardwebhooks.Webhook(secret).verify(body.decode(), headers) == {
            "type": "webhook.test"
        }
    assert old.startswith("whsec_") and len(old) == len("whsec_") + 44


async def test_a_huge_answer_is_read_only_up_to_the_cap() -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(10_000):  # 10 MB if anyone read it all
            sent += 1024
            yield b"\x00" + b"a" * 1023

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    client = WebhookClient(transport=httpx.MockTransport(handler))
    try:
        result = await client.post(
            "http://hooks.test/", b"{}", message_id="m", secrets_=[new_secret()]
        )
    finally:
        await client.close()

    assert result.ok and result.status_code == 200
    assert sent <= MAX_RESPONSE_BYTES + 1024
    assert result.snippet is not None and len(result.snippet) == 1024
    assert "\x00" not in result.snippet


async def test_a_redirect_is_a_failed_attempt_and_not_followed() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://elsewhere.test/"})

    client = WebhookClient(transport=httpx.MockTransport(handler))
    try:
        result = await client.post(
            "http://hooks.test/", b"{}", message_id="m", secrets_=[new_secret()]
        )
    finally:
        await client.close()

    assert (result.ok, result.status_code, result.error) == (
        False,
        302,
        "redirect refused (to http://elsewhere.test/)",
    )
    assert seen == ["http://hooks.test/"]


async def test_an_unreachable_receiver_is_an_error_not_an_exception() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = WebhookClient(transport=httpx.MockTransport(handler))
    try:
        result = await client.post(
            "http://hooks.test/", b"{}", message_id="m", secrets_=[new_secret()]
        )
    finally:
        await client.close()

    assert (result.ok, result.status_code, result.error) == (
        False,
        None,
        "ConnectError: connection refused",
    )
