"""Outbound webhooks in a process: the dispatcher on the bus, the HTTP client, the worker.

Every gateway and worker process runs a dispatcher (duplicates are suppressed in the database,
so any number may hear the same event). Deliveries run on a worker of their own on the
``webhooks`` queue, so a long scan never holds them up; each endpoint takes at most one of its
slots at a time (a procrastinate lock per endpoint).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from infra.bus import EventBus
from infra.jobs import JobQueue, stop_worker
from infra.settings import Settings
from infra.webhook_client import WebhookClient
from resolvers.user.webhook_delivery import DELIVERY_QUEUE, DeliveryPolicy
from resolvers.user.webhook_dispatch import WebhookDispatcher

__all__ = ["WebhookServices", "open_webhooks"]


@dataclass
class WebhookServices:
    dispatcher: WebhookDispatcher
    client: WebhookClient
    policy: DeliveryPolicy
    worker: asyncio.Task[None] | None = field(default=None)

    def services(self) -> dict[str, Any]:
        """For the request context (test sends) and the job context (deliveries)."""
        return {"webhook_client": self.client, "webhook_policy": self.policy}

    def start_worker(self, jobs: JobQueue, context: dict[str, Any], settings: Settings) -> None:
        self.worker = jobs.start_worker(
            concurrency=settings.webhook_concurrency,
            queues=[DELIVERY_QUEUE],
            name="webhook worker",
            additional_context={**context, **self.services()},
            polling_interval_s=self.policy.polling_interval(),
        )

    async def stop_worker(self) -> None:
        """Stop the delivery worker (running deliveries go back to the queue); the dispatcher
        goes on."""
        worker, self.worker = self.worker, None
        if worker is not None:
            await stop_worker(worker)

    async def close(self) -> None:
        await self.stop_worker()
        await self.dispatcher.close()
        await self.client.close()


def open_webhooks(settings: Settings, pool: asyncpg.Pool, bus: EventBus) -> WebhookServices:
    """The dispatcher starts listening at once."""
    dispatcher = WebhookDispatcher(pool, bus)
    dispatcher.start()
    return WebhookServices(dispatcher, WebhookClient(), DeliveryPolicy.from_settings(settings))
