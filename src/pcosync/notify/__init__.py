"""Telling the admin when a run needs them: email (SMTP) and a JSON webhook (Slack, Teams).

A :class:`Notice` says what happened and which command to look at it with. It carries run
ids and counts only: no names, no contact details, no secrets (DESIGN §12).
"""

from __future__ import annotations

from pcosync.notify.email import send_email
from pcosync.notify.notice import Notice, notice_for
from pcosync.notify.webhook import post_webhook

__all__ = ["Notice", "notice_for", "post_webhook", "send_email"]
