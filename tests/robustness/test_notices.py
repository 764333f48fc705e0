"""Notices degrade, never vanish, and do not repeat themselves (issue 12 §5): a real SMTP
server (aiosmtpd) and a real webhook receiver, the sync run through the CLI."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pcosync.app.notify_runs import deliver, notify_failure
from pcosync.config import Settings
from pcosync.emulators.server import free_port
from pcosync.errors import AuthenticationError
from pcosync.notify import notice_for
from pcosync.notify.repeat import RUN_TOPIC, Situation, Tell, decide
from pcosync.store import Store
from pcosync.store.notices import NoticeState
from tests.robustness.conftest import Church, cli, configure, links
from tests.safety.test_notifications import Receivers, receivers

__all__ = ["receivers"]


def _group(church: Church) -> int:
    group = church.rock_get("/api/Groups", **{"$filter": "Name eq 'Young Adults'"})[0]
    return int(group["Id"])


def test_rock_down_the_listed_addresses_still_get_the_email(receivers: Receivers) -> None:
    section = receivers.section()
    section["smtp"]["rock_group_id"] = 7
    settings = Settings.model_validate(
        {
            "rock": {"url": f"http://127.0.0.1:{free_port()}", "api_key": "k"},  # Rock is down
            "notifications": section,
        }
    )
    failed = asyncio.run(deliver(settings, notice_for(9, "failed", error_kind="ServerError")))
    assert failed == []
    assert receivers.inbox.recipients == [["admin@church.example", "it@church.example"]]
    text = " ".join(receivers.texts()[0].split())
    assert "Run 9 failed" in text
    assert "The Rock notification group 7 could not be read" in text
    assert "could not be read" not in receivers.hooks[0]["text"]  # the webhook has no group


def test_a_group_lookup_refused_during_a_run_still_mails_the_listed_addresses(
    church: Church, receivers: Receivers
) -> None:
    section = receivers.section()
    section["smtp"]["rock_group_id"] = _group(church)
    configure(church, notifications=section)
    church.rock_control(
        "faults", {"faults": [{"kind": "error", "status": 500, "path": "/api/GroupMembers"}]}
    )
    result = cli(church, "sync", "--hold")
    assert result.exit_code == 4, result.output
    assert receivers.inbox.recipients == [["admin@church.example", "it@church.example"]]
    assert "could not be read" in receivers.texts()[0]


def _refuse(church: Church, *rock_ids: int) -> None:
    faults = [
        {"kind": "error", "status": 400, "method": "PATCH", "path": f"/api/People/{rid}"}
        for rid in rock_ids
    ]
    church.rock_control("faults", {"faults": faults})


def _retry_all(church: Church) -> None:
    store = church.store()
    try:
        ids = [p.id for p in store.parked.list()]
    finally:
        store.close()
    for pid in ids:
        assert cli(church, "parked", "retry", str(pid)).exit_code == 0


def _a_day_passes(church: Church) -> None:
    store = church.store()
    try:
        state = store.notices.get(RUN_TOPIC)
        assert state is not None
        back = timedelta(hours=25)
        store.notices.save(
            replace(
                state,
                first_seen_at=state.first_seen_at - back,
                last_sent_at=state.last_sent_at - back,
            )
        )
    finally:
        store.close()


def test_one_stuck_record_is_told_once_then_daily_then_when_it_changes_or_clears(
    church: Church, receivers: Receivers
) -> None:
    church.sync()
    x, y = links(church)[:2]
    configure(church, notifications=receivers.section())
    church.pco_control(f"people/{x.pco_person_id}", {"last_name": "Stuckone"})
    _refuse(church, x.rock_person_id)

    def subjects() -> list[str]:
        return [str(m["Subject"]) for m in receivers.inbox.messages]

    assert cli(church, "sync").exit_code == 3
    assert len(subjects()) == 1 and "finished with 1 parked" in subjects()[0]
    # every 15 minutes the same: told once
    for _ in range(3):
        _retry_all(church)  # tried again each run: still refused, still the same situation
        assert cli(church, "sync").exit_code == 3
    assert len(subjects()) == 1 and len(receivers.hooks) == 1

    # a day later, still the same: one digest
    _a_day_passes(church)
    _retry_all(church)
    assert cli(church, "sync").exit_code == 3
    assert len(subjects()) == 2 and subjects()[1].startswith("pcosync: still partial since")
    digest = " ".join(receivers.texts()[1].split())
    assert "Daily digest: unchanged since" in digest and "4 run(s) since the last message" in digest
    _retry_all(church)
    assert cli(church, "sync").exit_code == 3
    assert len(subjects()) == 2

    # it changes: a second record is refused too → told at once
    church.pco_control(f"people/{y.pco_person_id}", {"last_name": "Stucktwo"})
    _refuse(church, x.rock_person_id, y.rock_person_id)
    _retry_all(church)
    assert cli(church, "sync").exit_code == 3
    assert len(subjects()) == 3 and "finished with" in subjects()[2]

    # Rock takes them again: resolved, said once
    church.rock_control("faults", method="DELETE")
    _retry_all(church)
    assert cli(church, "sync").exit_code == 0
    assert len(subjects()) == 4 and "resolved" in subjects()[3]
    resolved = " ".join(receivers.texts()[3].split())
    assert resolved.startswith("Resolved: run") and "Stuck" not in resolved
    assert [h["status"] for h in receivers.hooks][-1] == "resolved"
    assert cli(church, "sync").exit_code == 0
    assert len(subjects()) == 4


def test_failures_repeat_quietly_until_they_clear(church: Church, receivers: Receivers) -> None:
    configure(church, notifications=receivers.section())
    data = church.config.read_text().replace('api_key = "', 'api_key = "wrong-')
    church.config.write_text(data)
    assert cli(church, "sync").exit_code == 1
    assert cli(church, "sync").exit_code == 1
    assert len(receivers.hooks) == 1 and len(receivers.inbox.messages) == 1
    church.config.write_text(data.replace('api_key = "wrong-', 'api_key = "'))
    assert cli(church, "sync").exit_code in (0, 3)
    assert receivers.hooks[-1]["status"] in ("resolved", "partial")


def test_a_notice_nobody_received_is_tried_again_next_run(
    receivers: Receivers, tmp_path: Path
) -> None:
    section = receivers.section()
    del section["webhook"]
    working = Settings.model_validate(
        {"rock": {"url": "http://127.0.0.1:1"}, "notifications": section}
    )
    section = receivers.section()
    del section["webhook"]
    section["smtp"]["port"] = free_port()  # the mail server is down
    down = Settings.model_validate(
        {"rock": {"url": "http://127.0.0.1:1"}, "notifications": section}
    )
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    refused = AuthenticationError("refused", service="rock", status=401)
    try:
        assert asyncio.run(notify_failure(down, 1, refused, store)) == ["email"]
        assert store.notices.get(RUN_TOPIC) is None  # not told: not remembered as told
        assert asyncio.run(notify_failure(working, 2, refused, store)) == []
        assert asyncio.run(notify_failure(working, 3, refused, store)) == []
    finally:
        store.close()
    assert len(receivers.inbox.messages) == 1 and "Run 2 failed" in receivers.texts()[0]


# ------------------------------------------------------------------ the rule itself (pure)

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
STUCK = Situation("partial", "a")


def _state(**kw: object) -> NoticeState:
    base = NoticeState(RUN_TOPIC, "a", "partial", "text", T0, T0, T0, 0, 1)
    return replace(base, **kw)  # type: ignore[arg-type]


def test_decide_new_quiet_digest_changed_resolved() -> None:
    assert decide(None, None, now=T0, run_id=1, run_done=True).tell is Tell.NOTHING
    first = decide(None, STUCK, now=T0, run_id=1, run_done=False)
    assert first.tell is Tell.NEW and first.state is not None
    later = decide(first.state, STUCK, now=T0 + timedelta(hours=5), run_id=2, run_done=False)
    assert later.tell is Tell.QUIET and later.state is not None and later.state.repeats == 1
    day = decide(later.state, STUCK, now=T0 + timedelta(hours=24), run_id=3, run_done=False)
    assert day.tell is Tell.DIGEST and day.state is not None and day.state.repeats == 0
    changed = Situation("partial", "b")
    assert decide(day.state, changed, now=T0, run_id=4, run_done=False).tell is Tell.NEW
    over = decide(day.state, None, now=T0, run_id=5, run_done=True)
    assert over.tell is Tell.RESOLVED and over.state is None


def test_a_done_run_with_records_parked_earlier_is_not_news() -> None:
    waiting = Situation("partial", "b")
    assert decide(_state(), waiting, now=T0, run_id=2, run_done=True).tell is Tell.QUIET
    assert decide(None, waiting, now=T0, run_id=2, run_done=True).tell is Tell.QUIET
    failed_before = _state(status="failed", fingerprint="f")
    assert decide(failed_before, waiting, now=T0, run_id=2, run_done=True).tell is Tell.RESOLVED
