"""Authentication: personal access tokens (HTTP Basic) and the OAuth authorization-code flow."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from pcosync.emulators.pco.app import DEFAULT_OAUTH_CLIENT_ID, DEFAULT_OAUTH_CLIENT_SECRET
from tests.conftest import RunningEmulator
from tests.pco_emulator.helpers import control

PEOPLE = "/people/v2/people"


def token(url: str, **fields: str) -> httpx.Response:
    fields.setdefault("client_id", DEFAULT_OAUTH_CLIENT_ID)
    fields.setdefault("client_secret", DEFAULT_OAUTH_CLIENT_SECRET)
    return httpx.post(f"{url}/oauth/token", data=fields)


def tokens_for(url: str, **code_options: Any) -> dict[str, Any]:
    code = control(url, "oauth/code", code_options)["code"]
    resp = token(url, grant_type="authorization_code", code=code)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def bearer(url: str, access_token: str, path: str = PEOPLE) -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"Authorization": f"Bearer {access_token}"})


def test_basic_auth_with_the_token_pair_is_accepted(api: httpx.Client) -> None:
    resp = api.get(PEOPLE, params={"per_page": 1})
    assert resp.status_code == 200
    assert resp.headers["X-PCO-API-Auth-Method"] == "HTTPBasic"
    assert resp.headers["Content-Type"] == "application/vnd.api+json; charset=utf-8"


def test_wrong_or_missing_credentials_get_the_401_document(pco_emulator: RunningEmulator) -> None:
    url = pco_emulator.url
    for auth in [("nope", "nope"), (pco_emulator.credentials["app_id"], "wrong-secret"), None]:
        resp = httpx.get(f"{url}{PEOPLE}", auth=auth)
        assert resp.status_code == 401
        assert resp.headers["Content-Type"].startswith("application/json")
        [err] = resp.json()["errors"]
        assert err["status"] == "401"
        assert err["title"] == "Unauthorized"
        assert "could not be authenticated" in err["detail"]
        assert "X-PCO-API-Request-Rate-Limit" in resp.headers
    garbage = httpx.get(f"{url}{PEOPLE}", headers={"Authorization": "Basic !!!not-base64"})
    assert garbage.status_code == 401


def test_authorization_code_flow_gives_a_working_bearer_token(
    pco_emulator: RunningEmulator,
) -> None:
    body = tokens_for(pco_emulator.url)
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 7200
    assert isinstance(body["created_at"], int)
    assert set(body["scope"].split()) == {"people", "services", "webhooks"}
    resp = bearer(pco_emulator.url, body["access_token"])
    assert resp.status_code == 200
    assert resp.headers["X-PCO-API-Auth-Method"] == "OAuth2"
    me = bearer(pco_emulator.url, body["access_token"], "/people/v2/me").json()
    assert me["data"]["id"] == control(pco_emulator.url, "info")["api_user_id"]


def test_a_code_works_once_and_needs_the_right_client(pco_emulator: RunningEmulator) -> None:
    url = pco_emulator.url
    code = control(url, "oauth/code", {})["code"]
    wrong = token(url, grant_type="authorization_code", code=code, client_secret="nope")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    first = token(url, grant_type="authorization_code", code=code)
    again = token(url, grant_type="authorization_code", code=code)
    assert first.status_code == 200
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    unsupported = token(url, grant_type="password")
    assert unsupported.json()["error"] == "unsupported_grant_type"


def test_access_token_expires_after_two_hours_of_emulator_clock(
    pco_emulator: RunningEmulator,
) -> None:
    url = pco_emulator.url
    body = tokens_for(url)
    control(url, "clock", {"advance_seconds": 7199})
    assert bearer(url, body["access_token"]).status_code == 200
    control(url, "clock", {"advance_seconds": 2})
    expired = bearer(url, body["access_token"])
    assert expired.status_code == 401
    assert "(BABOON)" in expired.json()["errors"][0]["detail"]


def test_each_refresh_rotates_the_refresh_token(pco_emulator: RunningEmulator) -> None:
    url = pco_emulator.url
    first = tokens_for(url)
    control(url, "clock", {"advance_seconds": 7300})
    resp = token(url, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert resp.status_code == 200
    second = resp.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert bearer(url, second["access_token"]).status_code == 200
    # the used refresh token is spent, and its access token was revoked with it
    reused = token(url, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    revoked = bearer(url, first["access_token"])
    assert revoked.status_code == 401
    assert "(CAPUCHIN)" in revoked.json()["errors"][0]["detail"]


def test_refresh_tokens_expire_after_90_days(pco_emulator: RunningEmulator) -> None:
    url = pco_emulator.url
    body = tokens_for(url)
    control(url, "clock", {"advance_seconds": 91 * 86400})
    resp = token(url, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert resp.status_code == 400


def test_token_endpoint_takes_json_and_multipart_fields(pco_emulator: RunningEmulator) -> None:
    url = pco_emulator.url
    fields = {
        "client_id": DEFAULT_OAUTH_CLIENT_ID,
        "client_secret": DEFAULT_OAUTH_CLIENT_SECRET,
        "grant_type": "authorization_code",
    }
    as_json = httpx.post(
        f"{url}/oauth/token", json={**fields, "code": control(url, "oauth/code", {})["code"]}
    )
    multipart = httpx.post(
        f"{url}/oauth/token",
        files={
            k: (None, v)
            for k, v in {**fields, "code": control(url, "oauth/code", {})["code"]}.items()
        },
    )
    assert as_json.status_code == 200, as_json.text
    assert multipart.status_code == 200, multipart.text


def test_a_token_without_the_product_scope_is_refused(pco_emulator: RunningEmulator) -> None:
    body = tokens_for(pco_emulator.url, scope="people")
    assert bearer(pco_emulator.url, body["access_token"]).status_code == 200
    refused = bearer(pco_emulator.url, body["access_token"], "/services/v2/people")
    assert refused.status_code == 403
    assert "(PELICAN)" in refused.json()["errors"][0]["detail"]


def test_authorize_redirects_back_with_a_code_and_the_state(pco_emulator: RunningEmulator) -> None:
    url = pco_emulator.url
    resp = httpx.get(
        f"{url}/oauth/authorize",
        params={
            "client_id": DEFAULT_OAUTH_CLIENT_ID,
            "redirect_uri": "https://app.example/callback",
            "response_type": "code",
            "scope": "people services",
            "state": "xyz",
        },
    )
    assert resp.status_code == 302
    location = urlsplit(resp.headers["location"])
    assert location.netloc == "app.example"
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    # the code is bound to its redirect_uri
    code = query["code"][0]
    mismatch = token(
        url, grant_type="authorization_code", code=code, redirect_uri="https://evil.example/"
    )
    assert mismatch.status_code == 400
    resp = httpx.get(
        f"{url}/oauth/authorize",
        params={
            "client_id": DEFAULT_OAUTH_CLIENT_ID,
            "redirect_uri": "https://app.example/callback",
            "response_type": "code",
            "scope": "people",
        },
    )
    code = parse_qs(urlsplit(resp.headers["location"]).query)["code"][0]
    ok = token(
        url, grant_type="authorization_code", code=code, redirect_uri="https://app.example/callback"
    )
    assert ok.status_code == 200
