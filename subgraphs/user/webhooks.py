"""Outbound webhooks: administrators' root fields, mixed into the subgraph's Query and Mutation.

An endpoint receives the server events it asks for, signed the Standard Webhooks way with its
secret (``whsec_…``, shown once, at creation and at each rotation).
"""

from __future__ import annotations

from typing import Any

import strawberry

from infra.errors import BadUserInput, NotFound, RevengeError
from infra.webhook_client import WebhookClient
from loaders.context import Context
from resolvers.user.webhook_delivery import redeliver
from resolvers.user.webhook_log import list_deliveries, load_deliveries, send_test
from resolvers.user.webhooks import (
    EndpointFields,
    create_webhook,
    delete_webhook,
    list_webhooks,
    rotate_webhook_secret,
    update_webhook,
)
from subgraphs.user.permissions import is_admin, require_admin, require_user
from subgraphs.user.types import parse_id
from subgraphs.user.webhook_types import (
    CreateWebhookInput,
    CreateWebhookResult,
    DeleteWebhookPayload,
    DeleteWebhookResult,
    RedeliverWebhookDeliveryResult,
    RotateWebhookSecretResult,
    TestWebhookResult,
    UpdateWebhookInput,
    UpdateWebhookResult,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryPayload,
    WebhookError,
    WebhookErrorCode,
    WebhookPayload,
    WebhookSecretPayload,
)

__all__ = ["WebhookMutation", "WebhookQuery"]

Info = strawberry.Info[Context, None]


def _refusal(info: Info) -> WebhookError | None:
    require_user(info.context.principal)
    if is_admin(info.context.principal, info.context.services["authz"]):
        return None
    return WebhookError(code=WebhookErrorCode.FORBIDDEN, message="administrators only")


def _error(problem: RevengeError) -> WebhookError:
    field = problem.extensions.get("field")
    for kind, code in ((BadUserInput, WebhookErrorCode.BAD_USER_INPUT),
                       (NotFound, WebhookErrorCode.NOT_FOUND)):  # fmt: skip
        if isinstance(problem, kind):
            return WebhookError(code=code, message=problem.message, field=field)
    raise problem


def _not_found(field: str = "id") -> WebhookError:
    return WebhookError(code=WebhookErrorCode.NOT_FOUND, message="nothing has this id", field=field)


def _uuids(values: list[strawberry.ID] | None, field: str) -> list[Any] | None:
    if values is None:
        return None
    parsed = [parse_id(value) for value in values]
    if any(value is None for value in parsed):
        raise BadUserInput("not an id", field=field)
    return parsed


def _client(info: Info) -> WebhookClient:
    client: WebhookClient | None = info.context.services.get("webhook_client")
    if client is None:  # a standalone subgraph sends nothing
        raise RuntimeError("test sends go through the gateway")
    return client


def _given(value: Any) -> bool:
    return value is not strawberry.UNSET


@strawberry.type
class WebhookQuery:
    @strawberry.field
    async def webhooks(self, info: Info) -> list[Webhook]:
        """Every webhook endpoint, oldest first (administrators only)."""
        require_admin(info.context.principal, info.context.services["authz"])
        return [Webhook.from_row(row) for row in await list_webhooks(info.context.pool)]

    @strawberry.field
    async def webhook_deliveries(
        self, info: Info, webhook_id: strawberry.ID, first: int = 50
    ) -> list[WebhookDelivery]:
        """An endpoint's newest deliveries (at most 200), each with its attempts."""
        require_admin(info.context.principal, info.context.services["authz"])
        webhook = parse_id(webhook_id)
        if webhook is None:
            return []
        deliveries = await list_deliveries(info.context.pool, webhook, first)
        return [WebhookDelivery.from_delivery(delivery) for delivery in deliveries]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation
    async def create_webhook(self, info: Info, input: CreateWebhookInput) -> CreateWebhookResult:
        """Register an endpoint; the payload holds its signing secret, shown this once."""
        refusal = _refusal(info)
        if refusal is not None:
            return refusal
        try:
            fields = EndpointFields(
                name=input.name, url=input.url, event_types=input.event_types,
                user_ids=_uuids(input.user_ids, "userIds"),
                library_ids=_uuids(input.library_ids, "libraryIds"), is_enabled=input.is_enabled,
            )  # fmt: skip
            row, secret = await create_webhook(
                info.context.pool, require_user(info.context.principal), fields,
                client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return _error(problem)
        return WebhookSecretPayload(webhook=Webhook.from_row(row), secret=secret)

    @strawberry.mutation
    async def update_webhook(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookInput
    ) -> UpdateWebhookResult:
        refusal = _refusal(info)
        webhook = parse_id(id)
        if refusal is not None or webhook is None:
            return refusal or _not_found()
        try:
            fields = EndpointFields(
                name=input.name if _given(input.name) else None,
                url=input.url if _given(input.url) else None,
                event_types=input.event_types if _given(input.event_types) else None,
                user_ids=_uuids(input.user_ids, "userIds") if _given(input.user_ids) else None,
                library_ids=(
                    _uuids(input.library_ids, "libraryIds") if _given(input.library_ids) else None
                ),
                is_enabled=input.is_enabled if _given(input.is_enabled) else None,
                clear_user_ids=_given(input.user_ids) and input.user_ids is None,
                clear_library_ids=_given(input.library_ids) and input.library_ids is None,
            )
            row = await update_webhook(
                info.context.pool, require_user(info.context.principal), webhook, fields,
                client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return _error(problem)
        return WebhookPayload(webhook=Webhook.from_row(row))

    @strawberry.mutation
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> DeleteWebhookResult:
        """The endpoint goes with its delivery log; queued deliveries are dropped."""
        refusal = _refusal(info)
        webhook = parse_id(id)
        if refusal is not None or webhook is None:
            return refusal or _not_found()
        try:
            await delete_webhook(
                info.context.pool, require_user(info.context.principal), webhook,
                client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return _error(problem)
        return DeleteWebhookPayload(deleted_id=strawberry.ID(str(webhook)))

    @strawberry.mutation
    async def rotate_webhook_secret(
        self, info: Info, id: strawberry.ID, overlap_seconds: int = 86_400
    ) -> RotateWebhookSecretResult:
        """A new secret (shown this once). For overlapSeconds the old one signs too: each
        delivery carries both signatures, so the receiver can switch in its own time."""
        refusal = _refusal(info)
        webhook = parse_id(id)
        if refusal is not None or webhook is None:
            return refusal or _not_found()
        try:
            row, secret = await rotate_webhook_secret(
                info.context.pool, require_user(info.context.principal), webhook,
                overlap_seconds, client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return _error(problem)
        return WebhookSecretPayload(webhook=Webhook.from_row(row), secret=secret)

    @strawberry.mutation
    async def test_webhook(self, info: Info, id: strawberry.ID) -> TestWebhookResult:
        """Send a webhook.test event now (one attempt, disabled endpoints too); its result."""
        refusal = _refusal(info)
        webhook = parse_id(id)
        if refusal is not None or webhook is None:
            return refusal or _not_found()
        try:
            delivery = await send_test(info.context.pool, info.context.bus, _client(info), webhook)
        except RevengeError as problem:
            return _error(problem)
        return WebhookDeliveryPayload(delivery=WebhookDelivery.from_delivery(delivery))

    @strawberry.mutation
    async def redeliver_webhook_delivery(
        self, info: Info, delivery_id: strawberry.ID
    ) -> RedeliverWebhookDeliveryResult:
        """Queue the logged delivery's event again for its endpoint (same webhook-id, so the
        receiver can tell); the new delivery, pending."""
        refusal = _refusal(info)
        delivery = parse_id(delivery_id)
        if refusal is not None or delivery is None:
            return refusal or _not_found("deliveryId")
        new_id = await redeliver(info.context.pool, delivery)
        if new_id is None:
            return _not_found("deliveryId")
        (found,) = await load_deliveries(info.context.pool, [new_id])
        return WebhookDeliveryPayload(delivery=WebhookDelivery.from_delivery(found))
