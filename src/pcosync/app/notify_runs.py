"""Send the configured notifications for a run that failed, was held, or ended partial."""

from __future__ import annotations

import logging
import smtplib

import httpx

from pcosync.app.people_sync import RunSummary
from pcosync.app.refusal import REFUSALS, credential_of
from pcosync.clients.rock import RockClient
from pcosync.config import Settings
from pcosync.errors import ApiError, ConfigError, CredentialsRefused
from pcosync.notify import Notice, notice_for, post_webhook, send_email

log = logging.getLogger("pcosync.notify")


async def deliver(settings: Settings, notice: Notice | None) -> list[str]:
    """Send ``notice`` everywhere configured. A failed delivery is logged, never raised:
    the run's outcome matters more than the message about it. Returns what failed."""
    if notice is None:
        return []
    failed: list[str] = []
    cfg = settings.notifications
    if cfg.smtp is not None:
        try:
            smtp = cfg.smtp
            if smtp.rock_group_id is not None:
                extra = await group_recipients(settings, smtp.rock_group_id)
                smtp = smtp.model_copy(update={"to": list(dict.fromkeys([*smtp.to, *extra]))})
            await send_email(smtp, notice)
        except (OSError, smtplib.SMTPException, ApiError) as exc:
            log.warning("notify.email_failed run=%s error=%s", notice.run_id, type(exc).__name__)
            failed.append("email")
    if cfg.webhook is not None:
        try:
            await post_webhook(cfg.webhook, notice)
        except (httpx.HTTPError, ConfigError) as exc:
            log.warning("notify.webhook_failed run=%s error=%s", notice.run_id, type(exc).__name__)
            failed.append("webhook")
    return failed


async def group_recipients(settings: Settings, group_id: int) -> list[str]:
    """Email addresses of the active members of the Rock notification group."""
    async with RockClient(
        settings.rock.url, api_key=settings.rock_api_key(), time_zone=settings.rock.time_zone
    ) as rock:
        members = [m for m in await rock.group_members(group_ids=[group_id]) if m.active]
        people = await rock.people_by_ids([m.person_id for m in members])
    return [p.email for p in people if p.email]


async def notify_run(settings: Settings, summary: RunSummary) -> list[str]:
    """Notify about a finished (or held) run when its status calls for it."""
    return await deliver(
        settings,
        notice_for(
            summary.run_id,
            summary.status.value,
            counts=summary.as_dict(),
            hold_reasons=summary.hold_reasons,
        ),
    )


async def notify_failure(settings: Settings, run_id: int, exc: BaseException) -> list[str]:
    credential = None
    if isinstance(exc, CredentialsRefused):
        credential = exc.credential
    elif isinstance(exc, REFUSALS):
        credential = credential_of(exc)
    notice = notice_for(run_id, "failed", error_kind=type(exc).__name__, credential=credential)
    return await deliver(settings, notice)
