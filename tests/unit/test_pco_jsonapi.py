"""decode_document: the same records as plain JSON decoding, in compact form (issue 14)."""

from __future__ import annotations

import json

import pytest

from pcosync.clients.pco.jsonapi import Document, Query, decode_document
from pcosync.errors import UnsupportedQueryError

BODY = {
    "data": [
        {
            "type": "Team",
            "id": "1",
            "attributes": {"name": "Band", "archived_at": None},
            "relationships": {
                "team_positions": {"data": [{"type": "TeamPosition", "id": "7"}]},
                "person_team_position_assignments": {
                    "data": [
                        {"type": "PersonTeamPositionAssignment", "id": "70"},
                        {"type": "PersonTeamPositionAssignment", "id": "71"},
                        {"type": "PersonTeamPositionAssignment", "id": "404"},
                    ]
                },
                "service_type": {"data": {"type": "ServiceType", "id": "3"}},
                "default_responds_to": {"data": None},
                "people": {"links": {"related": "https://x/people"}},
            },
            "links": {"self": "https://x/teams/1"},
        }
    ],
    "included": [
        {
            "type": "TeamPosition",
            "id": "7",
            "attributes": {"name": "Drums"},
            "relationships": {"team": {"data": {"type": "Team", "id": "1"}}},
        },
        *(
            {
                "type": "PersonTeamPositionAssignment",
                "id": aid,
                "attributes": {
                    "schedule_preference": "Every week",
                    "preferred_weeks": ["1", "3"],
                    "updated_at": "2026-01-02T03:04:05Z",
                },
                "relationships": {
                    "person": {"data": {"type": "Person", "id": pid}},
                    "team_position": {"data": {"type": "TeamPosition", "id": "7"}},
                    "time_preference_options": {"data": []},
                },
                "links": {"self": f"https://x/assignments/{aid}"},
            }
            for aid, pid in (("70", "500"), ("71", "501"))
        ),
    ],
    "meta": {"total_count": 1, "can_include": ["team_positions"]},
    "links": {"next": "https://x/teams?offset=100"},
}


def test_compact_document_reads_as_the_plain_one() -> None:
    plain = Document.parse(json.loads(json.dumps(BODY)))
    compact = decode_document(json.dumps(BODY).encode())
    assert [r.id for r in compact.data] == ["1"]
    assert compact.included.keys() == plain.included.keys()
    assert compact.meta == plain.meta
    assert compact.next_url == plain.next_url and compact.total_count == 1
    assert not compact.single
    for a, b in [
        (compact.data[0], plain.data[0]),
        *zip(compact.included.values(), plain.included.values(), strict=True),
    ]:
        assert (a.type, a.id, dict(a.attributes)) == (b.type, b.id, dict(b.attributes))
        assert a.relationships.keys() == b.relationships.keys()
        for name in b.relationships:
            assert a.rel_data(name) == b.rel_data(name), name
    team, base = compact.data[0], plain.data[0]
    for name in ("team_positions", "person_team_position_assignments", "people"):
        assert [(r.type, r.id) for r in compact.related(team, name)] == [
            (r.type, r.id) for r in plain.related(base, name)
        ]
    assert [r.id for r in compact.related(team, "person_team_position_assignments")] == ["70", "71"]
    assert team.rel_id("service_type") == "3"
    assert team.rel_id("default_responds_to") is None


def test_single_resource_and_sparse_fieldset_check() -> None:
    one = {"data": BODY["data"][0], "included": [], "meta": {}}  # type: ignore[index]
    doc = decode_document(json.dumps(one))
    assert doc.single and doc.data[0].id == "1"
    # a page whose records lost the link to what was included is still refused
    lost = {"data": [{"type": "Team", "id": "2", "attributes": {}, "relationships": {}}]}
    query = Query().with_include("team_positions")
    with pytest.raises(UnsupportedQueryError):
        query.check_linked(decode_document(json.dumps(lost)), "/services/v2/teams")
    query.check_linked(decode_document(json.dumps(BODY)), "/services/v2/teams")


def test_attributes_named_like_a_resource_stay_attributes() -> None:
    # an attributes object is never taken for a resource unless it is one
    body = {"data": [{"type": "Email", "id": "9", "attributes": {"type": "home", "id": 3}}]}
    doc = decode_document(json.dumps(body))
    assert doc.data[0].attributes == {"type": "home", "id": 3}
