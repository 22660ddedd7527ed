"""What every schema model shares: the strict base class, problem locations and suggestions."""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any

from pydantic import BaseModel, ConfigDict

Loc = tuple[str | int, ...]
"""Where a problem is in the workload: keys and list indexes from the document's root."""


class Strict(BaseModel):
    """Base of every schema model: unknown keys are errors and parsed values never change."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, coerce_numbers_to_str=True, regex_engine="python-re"
    )


def suggest(word: str, choices: Any) -> str:
    """`; did you mean 'x'?` for the closest choice, or nothing."""
    close = get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
