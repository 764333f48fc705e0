"""Async Rock RMS REST v1 client on the shared HTTP layer.

- REST key in ``Authorization-Token``; bounded concurrency (Rock publishes no rate limit;
  8 requests in flight by default).
- Lists are paged with ``$top``/``$skip`` and a stable ``$orderby`` (Rock has no server page
  size: an unpaged list returns every row). Paging stops on a short page, and refuses to go
  on when a page repeats the previous one.
- Filters are OData v3 with organisation-local date literals (see :mod:`.odata`).
- Writes: POST answers 201 with the bare new Id; PATCH for partial updates (PUT would reset
  every omitted field); attribute values through the query-string endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from pcosync.clients.http import ApiHttpClient, Clock, RetryPolicy
from pcosync.clients.rock import odata
from pcosync.clients.rock.errors import classify_rock
from pcosync.clients.rock.models import (
    MEMBER_ACTIVE,
    Guids,
    RockAttributeValue,
    RockCampus,
    RockGroup,
    RockGroupLocation,
    RockGroupMember,
    RockPerson,
)
from pcosync.errors import ConfigError, NotFoundError, PaginationError, ValidationError

PAGE_SIZE = 1000


class RockClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        time_zone: str = "America/Chicago",
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        timeout: float = 60.0,
        max_in_flight: int = 8,
        page_size: int = PAGE_SIZE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ConfigError("Rock needs a REST key", key="rock.api_key")
        try:
            self.tz = ZoneInfo(time_zone)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"unknown time zone {time_zone!r}", key="rock.time_zone") from exc
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.max_in_flight = max_in_flight
        self.http = ApiHttpClient(
            service="rock",
            base_url=self.base_url,
            classify=classify_rock,
            headers={
                "Authorization-Token": api_key,
                "Accept": "application/json",
                "User-Agent": "pcosync",
            },
            retry=retry,
            clock=clock,
            timeout=timeout,
            max_in_flight=max_in_flight,
            transport=transport,
        )
        self._ids_by_guid: dict[str, int] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> RockClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---------------------------------------------------------------- generic

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = await self.http.request("GET", path, params=dict(params or {}))
        return response.json() if response.content else None

    async def query(
        self,
        entity: str,
        *,
        filter: str | None = None,
        orderby: str = "Id",
        select: Sequence[str] | None = None,
        expand: Sequence[str] | None = None,
        extra: Mapping[str, str] | None = None,
        top: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every row of ``/api/{entity}`` matching ``filter``, page by page; at most ``top``
        rows when it is given (then without a second request to learn there are no more)."""
        rows: list[dict[str, Any]] = []
        async for batch in self.pages(
            entity,
            filter=filter,
            orderby=orderby,
            select=select,
            expand=expand,
            extra=extra,
            top=top,
        ):
            rows.extend(batch)
        return rows[:top] if top else rows

    async def pages(
        self,
        entity: str,
        *,
        filter: str | None = None,
        orderby: str = "Id",
        select: Sequence[str] | None = None,
        expand: Sequence[str] | None = None,
        extra: Mapping[str, str] | None = None,
        top: int | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The rows of :meth:`query`, one page at a time, so a caller reading a whole
        table can convert each page and drop it (issue 14: memory at 100,000 people)."""
        page = min(top, self.page_size) if top else self.page_size
        count = 0
        skip = 0
        previous_first: Any = object()
        while True:
            params: dict[str, Any] = {"$top": page, "$skip": skip, "$orderby": orderby}
            if filter:
                params["$filter"] = filter
            if select:
                params["$select"] = ",".join(select)
            if expand:
                params["$expand"] = ",".join(expand)
            params.update(extra or {})
            batch = await self.get_json(f"/api/{entity}", params)
            if not isinstance(batch, list):
                raise ValidationError(
                    f"Rock /api/{entity} did not answer with a list",
                    service="rock",
                    method="GET",
                    path=f"/api/{entity}",
                )
            if batch and batch[0].get("Id") == previous_first:
                raise PaginationError(
                    f"Rock paging of /api/{entity} repeated a page",
                    service="rock",
                    method="GET",
                    path=f"/api/{entity}",
                )
            count += len(batch)
            yield batch
            if len(batch) < page or (top and count >= top):
                return
            previous_first = batch[0].get("Id")
            skip += page

    async def query_any(
        self,
        entity: str,
        field: str,
        values: Iterable[object],
        *,
        filter: str | None = None,
        select: Sequence[str] | None = None,
        gap: int = odata.RANGE_GAP,
        **kw: Any,
    ) -> list[dict[str, Any]]:
        """Rows whose ``field`` is one of ``values``: batched filters, run in parallel.

        Integer values (Rock's ids, dense in practice) go as ``ge``/``le`` ranges, so the
        4,337 people a first sync touched cost a few requests, not 290 (issue 14); rows of
        the ids inside a range that were not asked for are dropped here. Pass ``gap=0``
        where one unwanted id can hold many rows (a group's members): ranges then cover
        only wanted ids. Other values go as ``or`` chains of ``eq``.
        """
        items = list(dict.fromkeys(values))
        ids = [v for v in items if type(v) is int]  # not bool, not an IntEnum
        wanted: set[int] | None = None
        if items and len(ids) == len(items):
            wanted = set(ids)
            clauses = odata.in_ranges(field, ids, gap)
            if select and field not in select:
                select = [*select, field]
        else:
            clauses = odata.any_of(field, items, self.tz)
        if not clauses:
            return []
        sem = asyncio.Semaphore(self.max_in_flight)

        async def one(clause: str) -> list[dict[str, Any]]:
            async with sem:
                return await self.query(
                    entity, filter=odata.all_of(filter, clause), select=select, **kw
                )

        results = await asyncio.gather(*(one(c) for c in clauses))
        rows = [row for batch in results for row in batch]
        if wanted is None:
            return rows
        return [row for row in rows if row.get(field) in wanted]

    async def post(
        self,
        path: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        *,
        idempotent: bool | None = None,
    ) -> Any:
        response = await self.http.request(
            "POST", path, json=body, params=dict(params or {}), idempotent=idempotent
        )
        return response.json() if response.content else None

    async def create(self, entity: str, body: Mapping[str, Any]) -> int:
        """POST a new row; Rock answers 201 with the bare new Id. Lost answer → ambiguous."""
        new_id = await self.post(f"/api/{entity}", dict(body))
        if not isinstance(new_id, int):
            raise ValidationError(
                f"Rock POST /api/{entity} did not return the new Id",
                service="rock",
                method="POST",
                path=f"/api/{entity}",
            )
        return new_id

    async def patch(self, entity: str, id_: int, changes: Mapping[str, Any]) -> None:
        await self.http.request("PATCH", f"/api/{entity}/{id_}", json=dict(changes))

    async def delete(self, entity: str, id_: int) -> None:
        await self.http.request("DELETE", f"/api/{entity}/{id_}")

    # ---------------------------------------------------------------- system lookups

    async def id_for_guid(self, entity: str, guid: str) -> int:
        """Install-specific Id of a system row, looked up once by its fixed GUID."""
        key = f"{entity}:{guid.upper()}"
        if key not in self._ids_by_guid:
            rows = await self.query(
                entity, filter=f"Guid eq {odata.guid(guid)}", select=["Id"], top=2
            )
            if not rows:
                raise NotFoundError(
                    f"Rock has no {entity} row with system GUID {guid}",
                    service="rock",
                    method="GET",
                    path=f"/api/{entity}",
                )
            self._ids_by_guid[key] = int(rows[0]["Id"])
        return self._ids_by_guid[key]

    async def defined_value_id(self, guid: str) -> int:
        return await self.id_for_guid("DefinedValues", guid)

    async def current_person(self) -> dict[str, Any]:
        found = await self.get_json("/api/People/GetCurrentPerson")
        if not isinstance(found, dict):
            raise NotFoundError(
                "Rock did not say who the REST key belongs to",
                service="rock",
                method="GET",
                path="/api/People/GetCurrentPerson",
            )
        return found

    async def version(self) -> str:
        found = await self.get_json("/api/Utility/GetRockSemanticVersionNumber")
        return str(found or "")

    async def campuses(self) -> list[RockCampus]:
        return [RockCampus.parse(r) for r in await self.query("Campuses")]

    # ---------------------------------------------------------------- people

    async def person_filter(self, modified_since: datetime | None = None) -> str:
        """Real people only (not businesses or REST users), optionally changed since a moment."""
        person_type = await self.defined_value_id(Guids.RECORD_TYPE_PERSON)
        clauses = [f"RecordTypeValueId eq {person_type}"]
        if modified_since is not None:
            clauses.append(odata.cmp("ModifiedDateTime", "ge", modified_since, self.tz))
        return odata.all_of(*clauses)

    async def people(
        self, *, modified_since: datetime | None = None, with_phones: bool = True
    ) -> list[RockPerson]:
        """People (optionally changed since a moment) with their phone numbers.

        ``$expand=PhoneNumbers`` saves a request per page but drops computed properties such as
        ``PrimaryAliasId`` (spec §2.6); read those with :meth:`people_by_ids` when linking.
        """
        rows = await self.query(
            "People",
            filter=await self.person_filter(modified_since),
            orderby="ModifiedDateTime,Id" if modified_since else "Id",
            expand=["PhoneNumbers"] if with_phones else None,
        )
        return [RockPerson.parse(r, self.tz) for r in rows]

    async def people_by_ids(self, ids: Iterable[int]) -> list[RockPerson]:
        rows = await self.query_any("People", "Id", ids)
        return [RockPerson.parse(r, self.tz) for r in rows]

    async def person(self, person_id: int) -> RockPerson:
        row = await self.get_json(f"/api/People/{person_id}")
        return RockPerson.parse(row, self.tz)

    async def person_by_alias(self, alias_id: int) -> RockPerson:
        """The current person behind an alias: how a link follows a Rock merge (spec §3.3)."""
        row = await self.get_json(f"/api/People/GetByPersonAliasId/{alias_id}")
        if not isinstance(row, dict):
            raise NotFoundError(
                f"Rock has no person for alias {alias_id}",
                service="rock",
                method="GET",
                path="/api/People/GetByPersonAliasId/{id}",
            )
        return RockPerson.parse(row, self.tz)

    async def people_by_email(self, email: str) -> list[RockPerson]:
        rows = await self.query(
            "People",
            filter=odata.all_of(
                await self.person_filter(), odata.cmp("Email", "eq", email, self.tz)
            ),
        )
        return [RockPerson.parse(r, self.tz) for r in rows]

    async def create_person(self, fields: Mapping[str, Any]) -> int:
        """POST /api/People: Rock also creates a family with the person as Adult (spec §4.1)."""
        return await self.create("People", fields)

    async def add_person_to_family(
        self, family_id: int, fields: Mapping[str, Any], role_id: int
    ) -> int:
        new_id = await self.post(
            f"/api/People/AddNewPersonToFamily/{family_id}",
            dict(fields),
            params={"groupRoleId": role_id},
        )
        if not isinstance(new_id, int):
            raise ValidationError(
                "Rock AddNewPersonToFamily did not return the new Id",
                service="rock",
                method="POST",
                path="/api/People/AddNewPersonToFamily/{id}",
            )
        return new_id

    async def update_person(self, person_id: int, changes: Mapping[str, Any]) -> None:
        await self.patch("People", person_id, changes)

    # ---------------------------------------------------------------- phones

    async def phone_numbers(
        self, *, person_ids: Iterable[int] | None = None, modified_since: datetime | None = None
    ) -> list[dict[str, Any]]:
        if person_ids is not None:
            return await self.query_any("PhoneNumbers", "PersonId", person_ids)
        flt = (
            odata.cmp("ModifiedDateTime", "ge", modified_since, self.tz) if modified_since else None
        )
        return await self.query("PhoneNumbers", filter=flt)

    async def create_phone(
        self,
        person_id: int,
        number_type_value_id: int,
        number: str,
        country_code: str = "1",
        *,
        messaging: bool = False,
    ) -> int:
        return await self.create(
            "PhoneNumbers",
            {
                "PersonId": person_id,
                "NumberTypeValueId": number_type_value_id,
                "Number": number,
                "CountryCode": country_code,
                "IsMessagingEnabled": messaging,
                "IsUnlisted": False,
            },
        )

    async def update_phone(self, phone_id: int, changes: Mapping[str, Any]) -> None:
        await self.patch("PhoneNumbers", phone_id, changes)

    async def delete_phone(self, phone_id: int) -> None:
        await self.delete("PhoneNumbers", phone_id)

    # ---------------------------------------------------------------- families and addresses

    async def families(self, person_id: int) -> list[RockGroup]:
        rows = await self.get_json(f"/api/Groups/GetFamilies/{person_id}")
        return [RockGroup.parse(r, self.tz) for r in rows or []]

    async def family_locations(self, family_ids: Iterable[int]) -> list[RockGroupLocation]:
        rows = await self.query_any("GroupLocations", "GroupId", family_ids, expand=["Location"])
        return [RockGroupLocation.parse(r, self.tz) for r in rows]

    async def save_address(
        self,
        family_id: int,
        location_type_value_id: int,
        *,
        street1: str,
        street2: str = "",
        city: str = "",
        state: str = "",
        postal_code: str = "",
        country: str = "US",
    ) -> None:
        """Set a family address; Rock turns the previous one of that type into 'Previous'."""
        await self.http.request(
            "PUT",
            f"/api/Groups/SaveAddress/{family_id}/{location_type_value_id}",
            params={
                "street1": street1,
                "street2": street2,
                "city": city,
                "state": state,
                "postalCode": postal_code,
                "country": country,
            },
        )

    # ---------------------------------------------------------------- groups

    async def groups(self, *, filter: str | None = None) -> list[RockGroup]:
        return [RockGroup.parse(r, self.tz) for r in await self.query("Groups", filter=filter)]

    async def group(self, group_id: int) -> RockGroup:
        return RockGroup.parse(await self.get_json(f"/api/Groups/{group_id}"), self.tz)

    async def create_group(self, fields: Mapping[str, Any]) -> int:
        return await self.create("Groups", fields)

    async def update_group(self, group_id: int, changes: Mapping[str, Any]) -> None:
        await self.patch("Groups", group_id, changes)

    async def group_members(
        self,
        *,
        group_ids: Iterable[int] | None = None,
        group_type_id: int | None = None,
        person_ids: Iterable[int] | None = None,
    ) -> list[RockGroupMember]:
        """Members of groups. With ``group_type_id`` one paged query covers every group of the
        type (the fewest requests); ``group_ids`` then only narrows the result here."""
        if group_type_id is not None:
            rows = await self.query("GroupMembers", filter=f"GroupTypeId eq {group_type_id}")
            members = [RockGroupMember.parse(r, self.tz) for r in rows]
            if group_ids is not None:
                wanted = set(group_ids)
                members = [m for m in members if m.group_id in wanted]
            return members
        if group_ids is not None:
            rows = await self.query_any("GroupMembers", "GroupId", group_ids, gap=0)
        elif person_ids is not None:
            rows = await self.query_any("GroupMembers", "PersonId", person_ids)
        else:
            rows = await self.query("GroupMembers")
        return [RockGroupMember.parse(r, self.tz) for r in rows]

    async def add_group_member(
        self, group_id: int, person_id: int, role_id: int, status: int = MEMBER_ACTIVE
    ) -> int:
        return await self.create(
            "GroupMembers",
            {
                "GroupId": group_id,
                "PersonId": person_id,
                "GroupRoleId": role_id,
                "GroupMemberStatus": status,
                "IsSystem": False,
            },
        )

    async def update_group_member(self, member_id: int, changes: Mapping[str, Any]) -> None:
        await self.patch("GroupMembers", member_id, changes)

    async def remove_group_member(self, member_id: int) -> None:
        """DELETE; Rock archives instead where the group type keeps history."""
        await self.delete("GroupMembers", member_id)

    # ---------------------------------------------------------------- attributes

    async def find_attribute(self, entity_type_guid: str, key: str) -> dict[str, Any] | None:
        entity_type_id = await self.id_for_guid("EntityTypes", entity_type_guid)
        rows = await self.query(
            "Attributes",
            filter=odata.all_of(
                f"EntityTypeId eq {entity_type_id}", odata.cmp("Key", "eq", key, self.tz)
            ),
        )
        return rows[0] if rows else None

    async def ensure_attribute(
        self, entity_type_guid: str, key: str, name: str, description: str = ""
    ) -> int:
        """Find or create a text attribute on an entity type (e.g. Person ``PcoPersonId``)."""
        found = await self.find_attribute(entity_type_guid, key)
        if found is not None:
            return int(found["Id"])
        entity_type_id = await self.id_for_guid("EntityTypes", entity_type_guid)
        field_type_id = await self.id_for_guid("FieldTypes", Guids.FIELD_TEXT)
        return await self.create(
            "Attributes",
            {
                "IsSystem": False,
                "FieldTypeId": field_type_id,
                "EntityTypeId": entity_type_id,
                "EntityTypeQualifierColumn": "",
                "EntityTypeQualifierValue": "",
                "Key": key,
                "Name": name,
                "Description": description,
                "Order": 0,
                "IsGridColumn": False,
                "IsMultiValue": False,
                "IsRequired": False,
            },
        )

    async def attribute_values(self, attribute_id: int) -> list[RockAttributeValue]:
        """Every value of one attribute in one paged read (the link map in a few requests)."""
        rows = await self.query(
            "AttributeValues",
            filter=f"AttributeId eq {attribute_id}",
            select=["Id", "AttributeId", "EntityId", "Value"],
        )
        return [RockAttributeValue.parse(r) for r in rows if r.get("Value")]

    async def set_attribute_value(self, entity: str, entity_id: int, key: str, value: str) -> None:
        """Query-string write (a JSON body would be ignored by Rock: spec §3.11)."""
        await self.post(
            f"/api/{entity}/AttributeValue/{entity_id}",
            params={"attributeKey": key, "attributeValue": value},
            idempotent=True,
        )

    async def clear_attribute_value(self, entity: str, entity_id: int, key: str) -> None:
        await self.http.request(
            "DELETE", f"/api/{entity}/AttributeValue/{entity_id}", params={"attributeKey": key}
        )
