"""The published figures `drgen check` cites (patterns/figures.yaml), one row per mechanism."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

import drgen.patterns

FIGURES_FILE = Path(drgen.patterns.__file__).resolve().parent / "figures.yaml"


class Figure(BaseModel):
    """A mechanism's recovery figures and where they are published."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    figure: str
    source: str
    url: str
    rpo: int | None = None
    rpo_typical: int | None = None
    rto: int | None = None
    rate_mb_s: float | None = None
    assumed: bool = False
    """drgen's planning assumption rather than a published guarantee."""


@cache
def figures() -> dict[str, Figure]:
    """Every figure by id, as the data file holds them."""
    rows = yaml.safe_load(FIGURES_FILE.read_text(encoding="utf-8"))
    return {key: Figure(id=key, **row) for key, row in rows.items()}
