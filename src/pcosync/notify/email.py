"""Email through SMTP (stdlib ``smtplib``), to the addresses in ``[notifications.smtp]``."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage

from pcosync.config import SmtpSettings
from pcosync.notify.notice import Notice

log = logging.getLogger("pcosync.notify")


def _message(smtp: SmtpSettings, notice: Notice) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = notice.subject
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(smtp.to)
    msg.set_content(notice.text)
    return msg


def _send(smtp: SmtpSettings, notice: Notice, timeout: float) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
        if smtp.starttls:
            client.starttls()  # refuses (SMTPNotSupportedError) rather than send in clear
        password = smtp.password()
        if smtp.user and password:
            client.login(smtp.user, password)
        client.send_message(_message(smtp, notice))


async def send_email(smtp: SmtpSettings, notice: Notice, *, wait: float = 30) -> None:
    """Send one notice; raises ``OSError``/``smtplib.SMTPException`` if it cannot."""
    if not smtp.to:
        return
    await asyncio.to_thread(_send, smtp, notice, wait)
    log.info("notify.email_sent run=%s status=%s to=%s", notice.run_id, notice.status, len(smtp.to))
