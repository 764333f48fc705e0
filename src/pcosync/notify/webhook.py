"""A JSON POST whose ``text`` field Slack and Microsoft Teams incoming webhooks display."""

from __future__ import annotations

import logging

import httpx

from pcosync.config import WebhookSettings
from pcosync.notify.notice import Notice

log = logging.getLogger("pcosync.notify")


async def post_webhook(webhook: WebhookSettings, notice: Notice, *, wait: float = 30) -> None:
    """Post one notice; raises ``httpx.HTTPError`` on a network error or a non-2xx answer,
    :class:`~pcosync.errors.ConfigError` when no URL is set."""
    async with httpx.AsyncClient(timeout=wait) as client:
        resp = await client.post(webhook.target(), json=notice.payload())
        resp.raise_for_status()
    # the URL itself is a secret for Slack and Teams: never logged
    log.info("notify.webhook_sent run=%s status=%s", notice.run_id, notice.status)
