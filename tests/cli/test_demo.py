"""``pcosync demo``: the whole story, for real against both emulators, short enough to read
in a minute, people named (never ids alone), and names printed as typed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pcosync.cli.demo import TRICKY_NAMES, run_demo

STEPS = (
    "Setup",
    "First sync: who is in sync",
    "One edit each way",
    "A conflict, and who won",
    "A bad value is parked, not copied",
    "A big change waits for approval",
    "Undo",
)


def test_the_demo_tells_the_whole_story_in_under_sixty_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_demo(workdir=str(tmp_path), tricky_names=True)
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.rstrip("\n").splitlines()
    assert len(lines) <= 60, f"{len(lines)} lines:\n{out}"
    for number, title in enumerate(STEPS, 1):
        assert f"{number}. {title}" in out, title
    said = " ".join(out.split())
    # names first: the people it is about, as typed (markup and emoji codes included)
    for name in TRICKY_NAMES:
        assert name in said, f"{name!r} not shown literally"
    assert "👍" not in out and "😄" not in out
    assert re.search(r"Planning Center → Rock: .+'s mobile phone, now \+1 615-555-0142", said)
    assert re.search(r"Rock → Planning Center: .+'s email, now new\.address@example\.org", said)
    assert "The later edit wins, so both now say “Sunshine”" in said
    assert "is parked" in said or "set the record aside" in said
    assert "held it and wrote nothing" in said and "approved it" in said
    assert "Reverting run" in said and "back at their old campus in Rock" in said
    # no bare ids where a person is meant, no raw True/False, no log lines
    assert "person 1100" not in said and "True" not in said and "False" not in said
    assert "WARNING" not in out and "pcosync.sync" not in out
    assert (tmp_path / "pcosync.toml").exists()
