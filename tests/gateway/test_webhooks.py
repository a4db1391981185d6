"""Outbound webhooks through the real app: GraphQL administration, the app's own dispatcher and
job worker, real HTTP to a local receiver, signatures checked with ``standardwebhooks``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import standardwebhooks

from tests.gateway.test_app import gql, running_app
from tests.support.auth import admin_api_key
from tests.support.webhook_receiver import Received, receiver

WEBHOOK_FIELDS = "id name url eventTypes userIds libraryIds isEnabled consecutiveFailures"
CREATE = f"""
mutation($input: CreateWebhookInput!) {{ createWebhook(input: $input) {{
  __typename ... on WebhookSecretPayload {{ secret webhook {{ {WEBHOOK_FIELDS} }} }}
  ... on WebhookError {{ code message field }} }} }}
"""
DELIVERY_FIELDS = """id webhookId eventId eventType status attemptCount isTest redeliveryOf
  payload attempts { attempt statusCode durationMs responseSnippet error }"""
TEST = f"""
mutation($id: ID!) {{ testWebhook(id: $id) {{
  __typename ... on WebhookDeliveryPayload {{ delivery {{ {DELIVERY_FIELDS} }} }}
  ... on WebhookError {{ code field }} }} }}
"""
ROTATE = """
mutation($id: ID!, $overlap: Int!) { rotateWebhookSecret(id: $id, overlapSeconds: $overlap) {
  __typename ... on WebhookSecretPayload { secret webhook { id } }
  ... on WebhookError { code field } } }
"""
REDELIVER = f"""
mutation($id: ID!) {{ redeliverWebhookDelivery(deliveryId: $id) {{
  __typename ... on WebhookDeliveryPayload {{ delivery {{ {DELIVERY_FIELDS} }} }}
  ... on WebhookError {{ code field }} }} }}
"""
DELIVERIES = f"""
query($id: ID!) {{ webhookDeliveries(webhookId: $id, first: 10) {{ {DELIVERY_FIELDS} }} }}
"""
UPDATE = f"""
mutation($id: ID!, $input: UpdateWebhookInput!) {{ updateWebhook(id: $id, input: $input) {{
  __typename ... on WebhookPayload {{ webhook {{ {WEBHOOK_FIELDS} }} }}
  ... on WebhookError {{ code field }} }} }}
"""
DELETE = """
mutation($id: ID!) { deleteWebhook(id: $id) {
  __typename ... on DeleteWebhookPayload { deletedId } ... on WebhookError { code } } }
"""


def verify(secret: str, request: Received) -> dict[str, Any]:
    payload: dict[str, Any] = standardwebhooks.Webhook(secret).verify(
        request.body.decode(), request.headers
    )
    return payload


async def test_webhooks_through_graphql(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    key = await admin_api_key(pool, "boss")
    async with receiver() as hooks:
        with running_app(database_url, tmp_path) as app:
            async with httpx.AsyncClient(
                base_url=app.url, timeout=30, headers={"x-api-key": key}
            ) as client:
                refused = await gql(
                    client,
                    CREATE,
                    {
                        "input": {
                            "name": "ha",
                            "url": "ftp://example.com/",
                            "eventTypes": ["user.created"],
                        }
                    },
                )
                assert refused["data"]["createWebhook"] == {
                    "__typename": "WebhookError",
                    "code": "BAD_USER_INPUT",
                    "message": "a webhook URL is an http:// or https:// URL",
                    "field": "url",
                }
                created = await gql(
                    client,
                    CREATE,
                    {
                        "input": {
                            "name": "ha",
                            "url": hooks.url("/ha"),
                            "eventTypes": ["user.created"],
                        }
                    },
                )
                payload = created["data"]["createWebhook"]
                secret, webhook = payload["secret"], payload["webhook"]
                assert secret.startswith("whsec_")
                assert webhook == {
                    "id": webhook["id"],
                    "name": "ha",
                    "url": hooks.url("/ha"),
                    "eventTypes": ["user.created"],
                    "userIds": None,
                    "libraryIds": None,
                    "isEnabled": True,
                    "consecutiveFailures": 0,
                }

                # An event published in the app reaches the receiver through the job worker.
                made = await gql(
                    client,
                    "mutation($input: CreateUserInput!) { createUser(input: $input) { __typename "
                    "... on CreateUserPayload { user { id } } } }",
                    {
                        "input": {
                            "name": "carol",
                            "password": "a fine long password",
                            "roles": ["USER"],
                        }
                    },
                )
                carol = made["data"]["createUser"]["user"]["id"]
                (event,) = await hooks.wait_for("/ha", 1)
                body = verify(secret, event)
                assert (body["type"], body["data"]["user"]) == (
                    "user.created",
                    {"id": carol, "name": "carol"},
                )

                tested = (await gql(client, TEST, {"id": webhook["id"]}))["data"]["testWebhook"]
                delivery = tested["delivery"]
                assert (delivery["eventType"], delivery["status"], delivery["isTest"]) == (
                    "webhook.test",
                    "DELIVERED",
                    True,
                )
                assert [
                    (a["attempt"], a["statusCode"], a["responseSnippet"])
                    for a in delivery["attempts"]
                ] == [(1, 200, "thanks")]
                assert verify(secret, hooks.at("/ha")[1])["type"] == "webhook.test"

                rotated = await gql(client, ROTATE, {"id": webhook["id"], "overlap": 600})
                new_secret = rotated["data"]["rotateWebhookSecret"]["secret"]
                assert new_secret not in (secret, None)
                await gql(client, TEST, {"id": webhook["id"]})
                both = hooks.at("/ha")[2]
                verify(secret, both)
                verify(new_secret, both)

                logged = (await gql(client, DELIVERIES, {"id": webhook["id"]}))["data"]
                first = logged["webhookDeliveries"][-1]
                assert (first["eventType"], first["status"], first["attemptCount"]) == (
                    "user.created",
                    "DELIVERED",
                    1,
                )
                assert first["payload"] == json.loads(event.body)
                again = (await gql(client, REDELIVER, {"id": first["id"]}))["data"]
                assert again["redeliverWebhookDelivery"]["delivery"]["redeliveryOf"] == first["id"]
                redelivered = (await hooks.wait_for("/ha", 4))[3]
                assert redelivered.body == event.body
                assert verify(new_secret, redelivered)["id"] == body["id"]

                updated = await gql(
                    client,
                    UPDATE,
                    {"id": webhook["id"], "input": {"url": "gopher://x", "name": "renamed"}},
                )
                assert updated["data"]["updateWebhook"] == {
                    "__typename": "WebhookError",
                    "code": "BAD_USER_INPUT",
                    "field": "url",
                }
                updated = await gql(
                    client, UPDATE, {"id": webhook["id"], "input": {"isEnabled": False}}
                )
                assert updated["data"]["updateWebhook"]["webhook"]["isEnabled"] is False
                listed = await gql(client, "{ webhooks { id name isEnabled } }")
                assert listed["data"]["webhooks"] == [
                    {"id": webhook["id"], "name": "ha", "isEnabled": False}
                ]
                deleted = await gql(client, DELETE, {"id": webhook["id"]})
                assert deleted["data"]["deleteWebhook"] == {
                    "__typename": "DeleteWebhookPayload",
                    "deletedId": webhook["id"],
                }
                await asyncio.sleep(0)


async def test_webhooks_are_for_administrators(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    with running_app(database_url, tmp_path) as app:
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
            anonymous = await gql(client, "{ webhooks { id } }")
            assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
