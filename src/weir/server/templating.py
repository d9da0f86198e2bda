"""Jinja2 environment for the UI: autoescaped templates and the filters they use."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.2f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def as_json(value: Any) -> str:
    return json.dumps(value, default=str, indent=None, sort_keys=True)


def templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=HERE / "templates")
    env = t.env
    env.autoescape = True
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.filters["when"] = when
    env.filters["seconds"] = seconds
    env.filters["as_json"] = as_json
    return t
