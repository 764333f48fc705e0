"""Planning Center API client."""

from pcosync.clients.pco.auth import OAuthAuth, OAuthTokens
from pcosync.clients.pco.client import API_VERSIONS, PcoClient, shared_limiter
from pcosync.clients.pco.jsonapi import Document, Query, Resource

__all__ = [
    "API_VERSIONS",
    "Document",
    "OAuthAuth",
    "OAuthTokens",
    "PcoClient",
    "Query",
    "Resource",
    "shared_limiter",
]
