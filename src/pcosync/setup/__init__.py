"""Setting pcosync up: the ``init`` assistant and the ``check`` command, minus the terminal.

:mod:`.probes` verifies both APIs and the state store without changing anything;
:mod:`.campuses` proposes the campus map; :mod:`.timezone` chooses Rock's time zone;
:mod:`.assistant` puts them together and writes ``pcosync.toml``.
"""

from __future__ import annotations

from pcosync.setup.results import Check, Status, all_passed

__all__ = ["Check", "Status", "all_passed"]
