"""Notifications for held, partial and failed runs: a local SMTP server and a local webhook
receiver, over real sockets (issue #6 §5)."""

from __future__ import annotations

import asyncio
import email
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pcosync.app.notify_runs import deliver
from pcosync.config import NotificationSettings, Settings, SmtpSettings, WebhookSettings
from pcosync.emulators.server import BackgroundServer, free_port
from pcosync.notify import notice_for
from tests.safety.conftest import Church, cli, configure, links


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


class Receivers:
    def __init__(self, inbox: _Inbox, hooks: list[dict[str, Any]], smtp_port: int, url: str):
        self.inbox = inbox
        self.hooks = hooks
        self.smtp_port = smtp_port
        self.url = url

    def section(self) -> dict[str, Any]:
        return {
            "smtp": {
                "host": "127.0.0.1",
                "port": self.smtp_port,
                "starttls": False,
                "from": "pcosync@church.example",
                "to": ["admin@church.example", "it@church.example"],
            },
            "webhook": {"url": f"{self.url}/hook"},
        }

    def texts(self) -> list[str]:
        mails = [str(m.get_payload(decode=True), "utf-8") for m in self.inbox.messages]
        return mails + [h["text"] for h in self.hooks]


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    inbox = _Inbox()
    hooks: list[dict[str, Any]] = []

    async def hook(request: Request) -> JSONResponse:
        hooks.append(await request.json())
        return JSONResponse({"ok": True})

    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with BackgroundServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
            yield Receivers(inbox, hooks, port, url)
    finally:
        controller.stop()


def test_a_held_run_is_announced_by_email_and_webhook(church: Church, receivers: Receivers) -> None:
    church.sync()
    link = links(church)[0]
    church.pco_control(f"people/{link.pco_person_id}", {"last_name": "Privatename"})
    configure(church, notifications=receivers.section(), safety={"update": {"max_count": 0}})
    result = cli(church, "sync")
    assert result.exit_code == 4, result.output
    run_id = int(result.output.split()[1])
    assert len(receivers.inbox.messages) == 1 and len(receivers.hooks) == 1
    mail = receivers.inbox.messages[0]
    assert mail["Subject"] == f"pcosync: run {run_id} is held for review"
    assert mail["From"] == "pcosync@church.example"
    assert receivers.inbox.recipients[0] == ["admin@church.example", "it@church.example"]
    hook = receivers.hooks[0]
    assert hook["run_id"] == run_id and hook["status"] == "held"
    assert hook["command"] == f"pcosync review {run_id}"
    for text in receivers.texts():
        assert f"pcosync review {run_id}" in text
        assert "limit of 0 updates per run" in text
        assert "Privatename" not in text and link.pco_person_id not in text


def test_a_partial_run_is_announced_with_counts_only(church: Church, receivers: Receivers) -> None:
    church.sync()
    link = links(church)[1]
    church.pco_control(f"people/{link.pco_person_id}", {"last_name": "Refusedname"})
    church.refuse_rock_updates(link.rock_person_id)
    configure(church, notifications=receivers.section())
    result = cli(church, "sync")
    assert result.exit_code == 3, result.output
    assert len(receivers.hooks) == 1
    hook = receivers.hooks[0]
    assert hook["status"] == "partial" and hook["counts"]["parked"] == 1
    for text in receivers.texts():
        assert f"pcosync runs show {hook['run_id']}" in text
        assert "1 record(s) could not be written" in text
        assert "Refusedname" not in text and f"Id {link.rock_person_id}" not in text


def test_a_failed_run_is_announced_without_its_error_text(
    church: Church, receivers: Receivers
) -> None:
    configure(church, notifications=receivers.section())
    data = church.config.read_text().replace('api_key = "', 'api_key = "wrong-')
    church.config.write_text(data)
    result = cli(church, "sync")
    assert result.exit_code == 1, result.output
    assert len(receivers.inbox.messages) == 1
    hook = receivers.hooks[0]
    assert hook["status"] == "failed"
    # credentials that stop working get their own message: what happened and what to run
    text = receivers.texts()[0]
    assert f"Run {hook['run_id']} failed because Rock refused pcosync's REST key" in text
    assert hook["command"] == "pcosync check"
    assert "pcosync check" in text and "wrong-" not in text
    assert "credentials or permissions refused" in receivers.inbox.messages[0]["Subject"]


def test_the_notification_group_in_rock_receives_the_email(
    church: Church, receivers: Receivers
) -> None:
    group = church.rock_get("/api/Groups", **{"$filter": "Name eq 'Young Adults'"})[0]
    members = church.rock_get("/api/GroupMembers", **{"$filter": f"GroupId eq {group['Id']}"})
    emails = {
        church.rock_get(f"/api/People/{m['PersonId']}")["Email"]
        for m in members
        if m["GroupMemberStatus"] == 1
    } - {None, ""}
    assert emails, "the seeded group has members with email addresses"
    section = receivers.section()
    section["smtp"]["rock_group_id"] = group["Id"]
    configure(church, notifications=section)
    result = cli(church, "sync", "--hold")
    assert result.exit_code == 4, result.output
    sent_to = set(receivers.inbox.recipients[0])
    assert {"admin@church.example", "it@church.example"} <= sent_to
    assert emails <= sent_to


def test_an_approval_that_fails_is_announced(church: Church, receivers: Receivers) -> None:
    church.sync()
    church.pco_control(f"people/{links(church)[0].pco_person_id}", {"nickname": "Held"})
    held = church.sync(hold=True)
    configure(church, notifications=receivers.section())
    data = church.config.read_text().replace('api_key = "', 'api_key = "wrong-')
    church.config.write_text(data)
    result = cli(church, "approve", str(held.run_id))
    assert result.exit_code == 1, result.output
    assert [h["status"] for h in receivers.hooks] == ["failed"]
    assert receivers.hooks[0]["run_id"] == held.run_id


def test_done_runs_and_dry_runs_send_nothing(church: Church, receivers: Receivers) -> None:
    configure(church, notifications=receivers.section())
    assert cli(church, "sync", "--dry-run", "--hold").exit_code == 0
    assert cli(church, "sync").exit_code in (0, 3)
    sent = len(receivers.hooks)
    assert cli(church, "sync").exit_code == 0
    assert len(receivers.hooks) == sent
    assert notice_for(1, "done") is None


def test_the_webhook_url_may_come_from_the_environment(
    receivers: Receivers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PCOSYNC_WEBHOOK_URL", f"{receivers.url}/hook")
    settings = Settings.model_validate(
        {"rock": {"url": "http://127.0.0.1:1"}, "notifications": {"webhook": {}}}
    )
    failed = asyncio.run(deliver(settings, notice_for(8, "held", hold_reasons=["too many"])))
    assert failed == []
    assert receivers.hooks[0]["run_id"] == 8 and "- too many" in receivers.hooks[0]["text"]
    monkeypatch.delenv("PCOSYNC_WEBHOOK_URL")
    assert asyncio.run(deliver(settings, notice_for(9, "failed"))) == ["webhook"]


def test_an_unreachable_receiver_does_not_fail_the_run(receivers: Receivers) -> None:
    settings = Settings.model_validate(
        {
            "rock": {"url": "http://127.0.0.1:1"},
            "notifications": NotificationSettings(
                smtp=SmtpSettings(host="127.0.0.1", port=free_port(), starttls=False, to=["a@b"]),
                webhook=WebhookSettings(url=f"http://127.0.0.1:{free_port()}/hook"),
            ).model_dump(by_alias=True),
        }
    )
    failed = asyncio.run(deliver(settings, notice_for(7, "failed", error_kind="X")))
    assert failed == ["email", "webhook"]


def test_a_held_notice_gives_the_reasons_and_a_partial_revert_says_nothing_is_retried() -> None:
    held = notice_for(5, "held", hold_reasons=["Held on request (--hold): review it."])
    assert held is not None and "safety limits" not in held.text
    assert "- Held on request (--hold): review it." in held.text
    undo = notice_for(6, "partial", counts={"mode": "revert", "parked": 2})
    assert undo is not None and undo.command == "pcosync runs show 6"
    assert "2 change(s) could not be undone" in undo.text and "not retried" in undo.text
    assert "retried on later runs" not in undo.text
    run = notice_for(7, "partial", counts={"mode": "incremental", "parked": 2})
    assert run is not None and "retried on later runs" in run.text
