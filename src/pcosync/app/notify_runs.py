"""Send the configured notifications for a run that failed, was held, or ended partial.

Notices degrade, never vanish (issue 12): when the Rock notification group cannot be read,
the addresses listed in ``pcosync.toml`` still get the email, which says so. And a situation
that repeats unchanged run after run is told once, then as a daily digest, and again when it
changes or clears (:mod:`pcosync.notify.repeat`, state in the store's ``notices`` table).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from pcosync.app.people_sync import RunSummary
from pcosync.app.refusal import REFUSALS, credential_of
from pcosync.clients.http import RetryPolicy
from pcosync.clients.rock import RockClient
from pcosync.config import Settings
from pcosync.errors import ApiError, ConfigError, CredentialsRefused, PcoSyncError
from pcosync.notify import Notice, notice_for, post_webhook, send_email
from pcosync.notify.repeat import (
    RUN_TOPIC,
    Situation,
    Tell,
    decide,
    digest_notice,
    fingerprint,
    resolved_notice,
)
from pcosync.store import RunMode, RunStatus, Store

log = logging.getLogger("pcosync.notify")

# the group lookup must not hold a failure notice back for minutes while Rock is down
GROUP_LOOKUP_RETRY = RetryPolicy(max_attempts=2, max_total_seconds=10.0)


async def deliver(settings: Settings, notice: Notice | None) -> list[str]:
    """Send ``notice`` everywhere configured. A failed delivery is logged, never raised:
    the run's outcome matters more than the message about it. Returns what failed."""
    if notice is None:
        return []
    failed: list[str] = []
    cfg = settings.notifications
    if cfg.smtp is not None:
        smtp = cfg.smtp
        email = notice
        if smtp.rock_group_id is not None:
            try:
                extra = await group_recipients(settings, smtp.rock_group_id)
                smtp = smtp.model_copy(update={"to": list(dict.fromkeys([*smtp.to, *extra]))})
            except (OSError, ApiError, ConfigError) as exc:  # Rock down: the listed addresses
                log.warning(
                    "notify.group_unreadable group=%s error=%s",
                    smtp.rock_group_id,
                    type(exc).__name__,
                )
                email = replace(
                    notice,
                    text=notice.text
                    + f"\n\n(The Rock notification group {smtp.rock_group_id} could not be "
                    "read, so only the addresses listed in pcosync.toml got this message.)",
                )
        try:
            await send_email(smtp, email)
        except (OSError, smtplib.SMTPException) as exc:
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
        settings.rock.url,
        api_key=settings.rock_api_key(),
        time_zone=settings.rock.time_zone,
        retry=GROUP_LOOKUP_RETRY,
    ) as rock:
        members = [m for m in await rock.group_members(group_ids=[group_id]) if m.active]
        people = await rock.people_by_ids([m.person_id for m in members])
    return [p.email for p in people if p.email]


@contextmanager
def _notice_store(settings: Settings, store: Store | None) -> Iterator[Store | None]:
    """The store that remembers what was told; None when it cannot be opened (then every
    notice is sent: better twice than never)."""
    if store is not None:
        yield store
        return
    try:
        opened = Store.open(settings.state_url())
    except PcoSyncError as exc:
        log.warning("notify.state_unavailable error=%s", type(exc).__name__)
        yield None
        return
    try:
        yield opened
    finally:
        opened.close()


async def _tell(
    settings: Settings,
    notice: Notice | None,
    situation: Situation | None,
    *,
    run_id: int,
    run_done: bool,
    kept: Store | None,
) -> list[str]:
    """Send what the decision calls for; ``kept`` None (no store): send ``notice`` as is."""
    cfg = settings.notifications
    channels = (["email"] if cfg.smtp is not None else []) + (
        ["webhook"] if cfg.webhook is not None else []
    )
    if kept is None:
        return await deliver(settings, notice)
    previous = kept.notices.get(RUN_TOPIC)
    decision = decide(
        previous,
        situation,
        now=datetime.now(UTC),
        run_id=run_id,
        run_done=run_done,
        text=notice.text if notice is not None else "",
    )
    send: Notice | None = None
    if decision.tell is Tell.NEW:
        send = notice
    elif decision.tell is Tell.DIGEST and previous is not None:
        send = digest_notice(previous, notice, run_id)
    elif decision.tell is Tell.RESOLVED and previous is not None:
        send = resolved_notice(previous, run_id, kept.connection)
    failed = await deliver(settings, send)
    log.info("notify.decided run=%s tell=%s", run_id, decision.tell.value)
    if send is not None and len(failed) == len(channels):
        return failed  # nothing arrived: keep the old state, so the next run tries again
    if decision.state is None:
        kept.notices.clear(RUN_TOPIC)
    else:
        kept.notices.save(decision.state)
    return failed


def _configured(settings: Settings) -> bool:
    cfg = settings.notifications
    return cfg.smtp is not None or cfg.webhook is not None


async def notify_run(
    settings: Settings, summary: RunSummary, store: Store | None = None
) -> list[str]:
    """Notify about a finished (or held) run when its status calls for it, once per
    situation (see :mod:`pcosync.notify.repeat`)."""
    notice = notice_for(
        summary.run_id,
        summary.status.value,
        counts=summary.as_dict(),
        hold_reasons=summary.hold_reasons,
    )
    if not _configured(settings):
        return []
    if summary.mode is RunMode.REVERT or summary.dry_run:  # one-off actions: told as they are
        return await deliver(settings, notice)
    with _notice_store(settings, store) as kept:
        situation: Situation | None
        if summary.status is RunStatus.HELD:
            situation = Situation("held", fingerprint("held", summary.hold_reasons))
        else:
            parked = [f"{p.side}:{p.record_key}" for p in kept.parked.list()] if kept else []
            keys = [*parked, *(["in-doubt"] if summary.in_doubt else [])]
            if summary.status is RunStatus.PARTIAL and not keys:  # parked, then dismissed
                keys = [f"run:{summary.run_id}"]
            situation = Situation("partial", fingerprint("partial", keys)) if keys else None
        return await _tell(
            settings,
            notice,
            situation,
            run_id=summary.run_id,
            run_done=summary.status is RunStatus.DONE,
            kept=kept,
        )


async def notify_failure(
    settings: Settings, run_id: int, exc: BaseException, store: Store | None = None
) -> list[str]:
    credential = None
    if isinstance(exc, CredentialsRefused):
        credential = exc.credential
    elif isinstance(exc, REFUSALS):
        credential = credential_of(exc)
    kind = type(exc).__name__
    notice = notice_for(run_id, "failed", error_kind=kind, credential=credential)
    situation = Situation("failed", fingerprint("failed", kind, credential or ""))
    if not _configured(settings):
        return []
    with _notice_store(settings, store) as kept:
        return await _tell(settings, notice, situation, run_id=run_id, run_done=False, kept=kept)
