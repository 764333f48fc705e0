"""How every command prints: one pair of consoles, and text from people kept literal.

Rich reads ``[...]`` in a printed string as markup and ``:name:`` as an emoji code. A name
typed into Rock or Planning Center may hold either (``[/]`` even makes Rich raise), so text
that came from a person or an API goes through :func:`esc` (in a markup string) or is a
:class:`~rich.text.Text` (in a table cell); our own messages write literal brackets as
``\\[``. Emoji codes are off altogether.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

console = Console(emoji=False)
err = Console(stderr=True, emoji=False, soft_wrap=True)  # the terminal wraps: commands stay whole


def esc(value: object) -> str:
    """Text from a person or an API, for a string Rich reads as markup."""
    return escape(str(value))


def plain(value: object, style: str = "") -> Text:
    """A table cell (or any renderable) shown exactly as given."""
    return Text("" if value is None else str(value), style=style)


def named(name: str | None, ids: str) -> Text:
    """A name first and, under it in grey, the ids that tell records apart."""
    return Text.assemble(name or "(no name)", "\n", (ids, "dim"))


def cells(*values: Any) -> list[Text]:
    """A table row of literal cells."""
    return [v if isinstance(v, Text) else plain(v) for v in values]


__all__ = ["cells", "console", "err", "esc", "named", "plain"]
