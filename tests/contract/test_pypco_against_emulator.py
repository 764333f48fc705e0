"""An independent, real PCO client (pypco) against our emulator.

If pypco — written against the real API — can iterate, include, create, update and ride out
a 429 here, the emulator speaks Planning Center's dialect, not just ours.
"""

from __future__ import annotations

import pypco
import pytest

from tests.conftest import RunningEmulator
from tests.contract.suite import control, set_faults


@pytest.fixture
def pco(pco_emulator: RunningEmulator) -> pypco.PCO:
    creds = pco_emulator.credentials
    return pypco.PCO(creds["app_id"], creds["secret"], api_base=pco_emulator.url)


def test_pypco_iterates_people_with_includes(pco: pypco.PCO, pco_emulator: RunningEmulator) -> None:
    total = pco.get("/people/v2/people", per_page=1)["meta"]["total_count"]
    seen = []
    emails = 0
    for record in pco.iterate(
        "/people/v2/people", per_page=100, include="emails,phone_numbers,addresses"
    ):
        seen.append(record["data"]["id"])
        emails += sum(1 for inc in record["included"] if inc["type"] == "Email")
    assert len(seen) == total == len(set(seen))
    assert emails > 0


def test_pypco_creates_and_updates_a_person(pco: pypco.PCO) -> None:
    created = pco.post(
        "/people/v2/people", pco.template("Person", {"first_name": "Pypco", "last_name": "Visitor"})
    )
    pid = created["data"]["id"]
    assert created["data"]["attributes"]["first_name"] == "Pypco"
    patched = pco.patch(f"/people/v2/people/{pid}", pco.template("Person", {"nickname": "Py"}))
    assert patched["data"]["attributes"]["nickname"] == "Py"
    fetched = pco.get(f"/people/v2/people/{pid}")
    assert fetched["data"]["attributes"]["nickname"] == "Py"


def test_pypco_survives_a_429(pco: pypco.PCO, pco_emulator: RunningEmulator) -> None:
    set_faults(pco_emulator.url, {"kind": "rate_limit", "count": 1, "retry_after": 1})
    body = pco.get("/people/v2/people", per_page=5)
    assert len(body["data"]) == 5
    assert control(pco_emulator.url, "stats")["throttled"] == 1
