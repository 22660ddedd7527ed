"""The published figures `drgen check` cites (patterns/figures.yaml), one row per mechanism."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

import drgen.patterns

FIGURES_FILE = Path(drgen.patterns.__file__).resolve().parent / "figures.yaml"


class Figure(BaseModel):
    """A mechanism's recovery figures and where they are published."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    basis: Literal["published", "arithmetic", "assumption"]
    """Whether the source states the figure, drgen computes it from published inputs, or it is
    drgen's own planning assumption."""
    figure: str
    source: str
    url: str
    rpo: int | None = None
    """A bound the provider stands behind; None when there is none (or it does not apply)."""
    rpo_typical: int | None = None
    """What usually happens: not a bound."""
    rto: int | None = None
    rto_typical: int | None = None
    rate_mb_s: float | None = None

    @property
    def assumed(self) -> bool:
        """drgen's planning assumption rather than a published figure."""
        return self.basis == "assumption"


@cache
def figures() -> dict[str, Figure]:
    """Every figure by id, as the data file holds them."""
    rows = yaml.safe_load(FIGURES_FILE.read_text(encoding="utf-8"))
    return {key: Figure(id=key, **row) for key, row in rows.items()}
