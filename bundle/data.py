"""Reading a deploy's settings: the host's (group) data, else the deploy's documented default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyinfra import host


def settings_reader(defaults: dict[str, Any]) -> Callable[[str], Any]:
    """`setting = settings_reader(DEFAULTS)`; `setting(key)` is the host's value or the default."""

    def setting(key: str) -> Any:
        value = host.data.get(key)
        return defaults[key] if value is None else value

    return setting
