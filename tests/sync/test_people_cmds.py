"""``pcosync people links|link|unlink|issues``: settling who is who by hand (DESIGN §8)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pcosync.cli.main import app
from tests.sync.conftest import Church
from tests.sync.test_people_sync import _link_values, _links, _pco_person


def _cli(church: Church, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--config", str(church.config), "people", *args])
    return result.exit_code, result.output


def test_unlink_clears_both_records_and_link_puts_the_pair_back(church: Church) -> None:
    church.sync()
    link = _links(church)[0]
    code, out = _cli(church, "links", "--json")
    assert code == 0
    assert {"link": link.id, "rock_id": link.rock_person_id, "pco_id": link.pco_person_id} in [
        {k: row[k] for k in ("link", "rock_id", "pco_id")} for row in json.loads(out)
    ]

    code, out = _cli(church, "unlink", "--rock", str(link.rock_person_id))
    assert code == 0, out
    assert all(lk.rock_person_id != link.rock_person_id for lk in _links(church))
    assert _pco_person(church, link.pco_person_id)["remote_id"] is None
    assert _link_values(church)[link.pco_person_id] == 0
    # unlinked on purpose: the next run does not pair them again; still serving, the
    # Planning Center person is created in Rock (as the unlink message says)
    assert church.sync().created["rock"] == 1
    relinked = [lk for lk in _links(church) if lk.pco_person_id == link.pco_person_id]
    assert [lk.rock_person_id != link.rock_person_id for lk in relinked] == [True]

    # the admin undoes that by hand: unlink the new record, link the original pair
    code, out = _cli(church, "unlink", "--pco", link.pco_person_id)
    assert code == 0, out
    code, out = _cli(church, "link", str(link.rock_person_id), link.pco_person_id)
    assert code == 0, out
    church.sync()
    back = [lk for lk in _links(church) if lk.rock_person_id == link.rock_person_id]
    assert [lk.pco_person_id for lk in back] == [link.pco_person_id]
    assert _pco_person(church, link.pco_person_id)["remote_id"] == link.rock_person_id
    assert _link_values(church)[link.pco_person_id] == 1


def test_link_refuses_ids_that_do_not_exist_or_are_taken(church: Church) -> None:
    church.sync()
    one, two = _links(church)[:2]
    code, out = _cli(church, "link", "987654", one.pco_person_id)
    assert code == 2 and "no Rock person 987654" in out
    code, out = _cli(church, "link", str(one.rock_person_id), "999999999")
    assert code == 2 and "no Planning Center person 999999999" in out
    code, out = _cli(church, "link", str(one.rock_person_id), two.pco_person_id)
    assert code == 2 and "Not linked" in out and "Unlink it first" in out
    assert {(lk.rock_person_id, lk.pco_person_id) for lk in _links(church)} >= {
        (one.rock_person_id, one.pco_person_id),
        (two.rock_person_id, two.pco_person_id),
    }
    code, out = _cli(church, "unlink")
    assert code == 2 and "--rock" in out


def test_issues_lists_open_match_issues(church: Church) -> None:
    code, out = _cli(church, "issues", "--json")
    assert code == 0 and json.loads(out) == []
    code, out = _cli(church, "issues")
    assert code == 0 and "No open match issues" in out
