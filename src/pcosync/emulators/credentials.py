"""The emulators' built-in credentials, in a module that imports nothing else.

A process that only talks to the emulators (a benchmark measuring the sync's own memory, the
demo's client side) takes them from here without loading the emulators' web applications.
These are emulator-only values, never real secrets.
"""

from __future__ import annotations

DEFAULT_APP_ID = "pcoemu-app-4d1f9a7c2b"
DEFAULT_SECRET = "pcoemu-secret-8e3b6d0a5f1c47e9"
DEFAULT_OAUTH_CLIENT_ID = "pcoemu-oauth-client-5a2c"
DEFAULT_OAUTH_CLIENT_SECRET = "pcoemu-oauth-secret-b71e90d4"
DEFAULT_API_KEY = "pcosync-rock-emulator-key"

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_APP_ID",
    "DEFAULT_OAUTH_CLIENT_ID",
    "DEFAULT_OAUTH_CLIENT_SECRET",
    "DEFAULT_SECRET",
]
