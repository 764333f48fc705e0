"""``pcosync init`` puts the brakes on by default, asks who to tell and how often to sync, says
how to change each, and estimates how long the first sync takes (issue 15)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pcosync.app.safety import DEFAULT_SAFETY
from pcosync.config import load_settings
from tests.cli.test_init_check import init_args, invoke, secrets_of
from tests.conftest import RunningEmulator


def flat(text: str) -> str:
    return " ".join(text.split())


def test_non_interactive_init_writes_brakes_and_a_schedule_and_says_how_to_change_them(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    result = invoke(init_args(cfg, rock_emulator, pco_emulator), secrets=secrets)
    assert result.exit_code == 0, result.output
    raw = tomllib.loads(cfg.read_text())
    assert raw["safety"] == DEFAULT_SAFETY
    assert raw["schedule"] == {"every_minutes": 15}
    settings = load_settings(cfg)
    assert settings.safety.update.percent == 10 and settings.safety.update.max_count == 50
    assert settings.safety.remove.percent == 10 and settings.safety.drop_percent == 20
    said = flat(result.output)
    assert "Brakes: a run waits for approval when it would update or remove more than 10%" in said
    assert f"Change the limits in [safety] in {cfg}" in said
    assert "Notifications: none" in said and "[notifications.smtp]" in said
    assert "Schedule: every 15 minutes" in said and "*/15 * * * * pcosync --config" in said
    assert "[schedule] every_minutes" in said
    assert "The first sync should take about" in said and "100 every 20 seconds" in said

    # a hand-edited [safety] survives init --force; options set notifications and schedule
    text = cfg.read_text().replace("max_count = 50", "max_count = 75", 1)
    cfg.write_text(text)
    again = invoke(
        [
            *init_args(cfg, rock_emulator, pco_emulator),
            "--force",
            "--every-minutes",
            "30",
            "--notify-email",
            "office@example.org",
            "--smtp-host",
            "mail.example.org:2525",
        ],
        secrets=secrets,
    )
    assert again.exit_code == 0, again.output
    settings = load_settings(cfg)
    assert settings.safety.update.max_count == 75
    assert settings.schedule.every_minutes == 30
    smtp = settings.notifications.smtp
    assert smtp is not None and smtp.to == ["office@example.org"]
    assert (smtp.host, smtp.port) == ("mail.example.org", 2525)
    said = flat(again.output)
    assert "Notifications: office@example.org by email via mail.example.org:2525" in said
    assert "*/30 * * * *" in said

    missing = invoke(
        [*init_args(cfg, rock_emulator, pco_emulator), "--force", "--notify-email", "a@b.org"],
        secrets=secrets,
    )
    assert missing.exit_code == 2 and "--smtp-host" in missing.output


def test_interactive_init_asks_who_to_tell_and_how_often(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    answers = [
        rock_emulator.url,
        rock_emulator.credentials["api_key"],
        pco_emulator.url,
        pco_emulator.credentials["app_id"],
        pco_emulator.credentials["secret"],
        "",  # teams parent group: the import makes "Planning Center"
        "",  # time zone: the proposal
        "",  # state database: default
        "n",  # secrets stay in the file
        "office@example.org, pastor@example.org",  # who to tell
        "mail.example.org",  # the mail server
        "pcosync",  # its login
        "every hour",  # not a number: asked again
        "60",
    ]
    result = invoke(
        ["init", "--config", str(cfg)],
        secrets=secrets_of(rock_emulator, pco_emulator),
        input="\n".join(answers) + "\n",
    )
    assert result.exit_code == 0, result.output
    said = flat(result.output)
    assert "Email addresses to tell" in said and "How often should pcosync sync?" in said
    assert "Give a number of minutes" in said
    settings = load_settings(cfg)
    smtp = settings.notifications.smtp
    assert smtp is not None
    assert smtp.to == ["office@example.org", "pastor@example.org"]
    assert (smtp.host, smtp.port, smtp.user) == ("mail.example.org", 587, "pcosync")
    assert settings.schedule.every_minutes == 60
    assert "0 */1 * * *" in said
    assert "its password goes in PCOSYNC_SMTP_PASSWORD" in said
    assert settings.safety.update.percent == 10  # brakes on here too
