"""The safety brake's settings: ``[safety]`` in pcosync.toml → the gate's :class:`GateConfig`."""

from __future__ import annotations

from dataclasses import replace

from pcosync.config import LimitSettings, SafetySettings, Settings
from pcosync.engine.gate import GateConfig, Threshold

# what `pcosync init` writes: brakes on by default (hold a run that would update or remove
# more than 10 % of the synced people or more than 50 of them, or that sees a side shrink
# by more than 20 %)
DEFAULT_SAFETY: dict[str, object] = {
    "update": {"percent": 10, "max_count": 50},
    "remove": {"percent": 10, "max_count": 50},
    "drop_percent": 20,
}


def describe_safety(safety: SafetySettings) -> str:
    """The brakes in one sentence, for init, the demo and the docs."""
    by_limit: dict[tuple[float | None, int | None], list[str]] = {}
    for kind, limit in (
        ("create", safety.create),
        ("update", safety.update),
        ("remove", safety.remove),
    ):
        if limit.percent is not None or limit.max_count is not None:
            by_limit.setdefault((limit.percent, limit.max_count), []).append(kind)
    parts = []
    for (percent, count), kinds in by_limit.items():
        share = f"more than {percent:g}% of the synced people" if percent is not None else ""
        cap = f"more than {count}" if count is not None else ""
        amount = f"{share} (or {cap} of them)" if share and cap else share or cap
        parts.append(f"{' or '.join(kinds)} {amount}")
    held = "; or ".join(parts) if parts else ""
    drop = f"when a side suddenly returns {safety.drop_percent:g}% fewer people"
    return (
        f"a run waits for approval when it would {held}, or {drop}"
        if held
        else (f"a run waits for approval {drop} (no limit on the size of a change)")
    )


def _threshold(limit: LimitSettings) -> Threshold:
    return Threshold(limit.percent, limit.max_count)


def _stricter(a: Threshold, b: Threshold) -> Threshold:
    def low(x: float | None, y: float | None) -> float | None:
        return y if x is None else x if y is None else min(x, y)

    count = low(a.max_count, b.max_count)
    return Threshold(low(a.percent, b.percent), None if count is None else int(count))


def gate_config_from(settings: Settings | SafetySettings) -> GateConfig:
    """Unset limits are off, so a config without ``[safety]`` holds only on the drop guard.

    The gate has three categories; archiving counts as a removal, under the stricter of
    the ``remove`` and ``archive`` limits.
    """
    safety = settings.safety if isinstance(settings, Settings) else settings
    return GateConfig(
        create=_threshold(safety.create),
        update=_threshold(safety.update),
        remove=_stricter(_threshold(safety.remove), _threshold(safety.archive)),
        drop_percent=safety.drop_percent,
    )


def for_population(config: GateConfig, population: int) -> GateConfig:
    """With nothing synced yet (the first sync) a share cannot be measured.

    A positive percent would then hold every first sync, so it is set aside: ``0 %`` still
    holds (it means "show me every run that writes"). So is a positive ``update`` count
    cap: a first sync writes the link id on both records of every person it links (two
    updates each), so any cap below twice the church's size would hold it; the ``create``
    and ``remove`` caps still apply. With people synced, the config is used as it is.
    """
    if population > 0:
        return config

    def keep_zero(t: Threshold) -> Threshold:
        return t if t.percent is None or t.percent == 0 else Threshold(None, t.max_count)

    def no_cap(t: Threshold) -> Threshold:
        return t if t.max_count is None or t.max_count == 0 else Threshold(t.percent, None)

    return replace(
        config,
        create=keep_zero(config.create),
        update=no_cap(keep_zero(config.update)),
        remove=keep_zero(config.remove),
    )
