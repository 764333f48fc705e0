"""The safety brake's settings: ``[safety]`` in pcosync.toml → the gate's :class:`GateConfig`."""

from __future__ import annotations

from dataclasses import replace

from pcosync.config import LimitSettings, SafetySettings, Settings
from pcosync.engine.gate import GateConfig, Threshold


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
    holds (it means "show me every run that writes"), and the ``max_count`` caps still
    apply. With people synced, the config is used as it is.
    """
    if population > 0:
        return config

    def keep_zero(t: Threshold) -> Threshold:
        return t if t.percent is None or t.percent == 0 else Threshold(None, t.max_count)

    return replace(
        config,
        create=keep_zero(config.create),
        update=keep_zero(config.update),
        remove=keep_zero(config.remove),
    )
