"""Outbound webhooks' GraphQL types: endpoints, deliveries and their attempts, inputs, payloads
and the error union members (the root fields are in ``subgraphs.user.webhooks``)."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from resolvers.user.webhook_log import Delivery
from resolvers.user.webhooks import EVENT_TYPES

__all__ = [
    "CreateWebhookInput",
    "CreateWebhookResult",
    "DeleteWebhookPayload",
    "DeleteWebhookResult",
    "RedeliverWebhookDeliveryResult",
    "RotateWebhookSecretResult",
    "TestWebhookResult",
    "UpdateWebhookInput",
    "UpdateWebhookResult",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryPayload",
    "WebhookDeliveryStatus",
    "WebhookError",
    "WebhookErrorCode",
    "WebhookPayload",
    "WebhookSecretPayload",
]

_TYPES_HELP = "Event types, some of: " + ", ".join(EVENT_TYPES) + "."


def _ids(values: list[Any] | None) -> list[strawberry.ID] | None:
    return None if values is None else [strawberry.ID(str(value)) for value in values]


@strawberry.type
class Webhook:
    id: strawberry.ID
    name: str
    url: str
    event_types: list[str]
    user_ids: list[strawberry.ID] | None = strawberry.field(
        description="Only events about these users; null: every user."
    )
    library_ids: list[strawberry.ID] | None = strawberry.field(
        description="Only events about items of these libraries; null: every library."
    )
    is_enabled: bool
    disabled_reason: str | None
    consecutive_failures: int = strawberry.field(description="Failed deliveries in a row.")
    previous_secret_expires_at: datetime.datetime | None = strawberry.field(
        description="Until then the secret before the last rotation signs too."
    )
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def from_row(cls, row: Any) -> Webhook:
        return cls(
            id=strawberry.ID(str(row["id"])),
            name=row["name"],
            url=row["url"],
            event_types=list(row["event_types"]),
            user_ids=_ids(row["user_ids"]),
            library_ids=_ids(row["library_ids"]),
            is_enabled=row["is_enabled"],
            disabled_reason=row["disabled_reason"],
            consecutive_failures=row["consecutive_failures"],
            previous_secret_expires_at=row["previous_secret_expires_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@strawberry.enum
class WebhookDeliveryStatus(Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


@strawberry.type
class WebhookAttempt:
    attempt: int
    status_code: int | None
    duration_ms: int
    response_snippet: str | None = strawberry.field(description="The answer's first 1 KB.")
    error: str | None
    created_at: datetime.datetime


@strawberry.type
class WebhookDelivery:
    id: strawberry.ID
    webhook_id: strawberry.ID
    event_id: strawberry.ID = strawberry.field(description="Sent as the webhook-id header.")
    event_type: str
    status: WebhookDeliveryStatus
    attempt_count: int
    is_test: bool
    redelivery_of: strawberry.ID | None
    payload: JSON = strawberry.field(description="The JSON body sent.")
    attempts: list[WebhookAttempt]
    created_at: datetime.datetime
    finished_at: datetime.datetime | None

    @classmethod
    def from_delivery(cls, delivery: Delivery) -> WebhookDelivery:
        row = delivery.row
        return cls(
            id=strawberry.ID(str(row["id"])),
            webhook_id=strawberry.ID(str(row["endpoint_id"])),
            event_id=strawberry.ID(str(row["event_id"])),
            event_type=row["event_type"],
            status=WebhookDeliveryStatus(row["status"]),
            attempt_count=row["attempt_count"],
            is_test=row["is_test"],
            redelivery_of=(
                strawberry.ID(str(row["redelivery_of"])) if row["redelivery_of"] else None
            ),
            payload=row["payload"],
            attempts=[
                WebhookAttempt(
                    attempt=a["attempt"],
                    status_code=a["status_code"],
                    duration_ms=a["duration_ms"],
                    response_snippet=a["response_snippet"],
                    error=a["error"],
                    created_at=a["created_at"],
                )
                for a in delivery.attempts
            ],
            created_at=row["created_at"],
            finished_at=row["finished_at"],
        )


@strawberry.input
class CreateWebhookInput:
    name: str
    url: str = strawberry.field(description="An http:// or https:// URL.")
    event_types: list[str] = strawberry.field(description=_TYPES_HELP)
    user_ids: list[strawberry.ID] | None = None
    library_ids: list[strawberry.ID] | None = None
    is_enabled: bool = True


@strawberry.input
class UpdateWebhookInput:
    name: str | None = strawberry.UNSET
    url: str | None = strawberry.UNSET
    event_types: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description=_TYPES_HELP
    )
    user_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="null: every user again."
    )
    library_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="null: every library again."
    )
    is_enabled: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Enabling again resets the failure count."
    )


@strawberry.enum
class WebhookErrorCode(Enum):
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"


@strawberry.type
class WebhookError:
    code: WebhookErrorCode
    message: str
    field: str | None = None


@strawberry.type
class WebhookPayload:
    webhook: Webhook


@strawberry.type
class WebhookSecretPayload:
    webhook: Webhook
    secret: str = strawberry.field(
        description="The signing secret (whsec_…): shown this once; give it to the receiver."
    )


@strawberry.type
class DeleteWebhookPayload:
    deleted_id: strawberry.ID


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery


CreateWebhookResult = Annotated[
    WebhookSecretPayload | WebhookError, strawberry.union("CreateWebhookResult")
]
UpdateWebhookResult = Annotated[
    WebhookPayload | WebhookError, strawberry.union("UpdateWebhookResult")
]
DeleteWebhookResult = Annotated[
    DeleteWebhookPayload | WebhookError, strawberry.union("DeleteWebhookResult")
]
RotateWebhookSecretResult = Annotated[
    WebhookSecretPayload | WebhookError, strawberry.union("RotateWebhookSecretResult")
]
TestWebhookResult = Annotated[
    WebhookDeliveryPayload | WebhookError, strawberry.union("TestWebhookResult")
]
RedeliverWebhookDeliveryResult = Annotated[
    WebhookDeliveryPayload | WebhookError, strawberry.union("RedeliverWebhookDeliveryResult")
]
