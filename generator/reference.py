"""The README's table of `workload.yaml` inputs, generated from the schema so it cannot drift."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from drgen.durations import format_duration
from drgen.schema import Workload


def inputs_table() -> str:
    """A Markdown table: every input of `workload.yaml`, its default and its description."""
    lines = ["| input | default | description |", "|---|---|---|"]
    lines += _rows(Workload, "")
    return "\n".join(lines) + "\n"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{path}` | {_default(field)} | {description} |")
        nested = _nested_model(field.annotation)
        if nested is not None:
            rows += _rows(nested, f"{path}.")
    return rows


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
        return f"`{value}`" if value in ({}, []) else "-"
    if field.default is None or field.default is PydanticUndefined:
        return "-"
    if _is_duration(field):
        return f"`{format_duration(field.default)}`"
    return f"`{field.default}`"


def _is_duration(field: FieldInfo) -> bool:
    # `Duration` fields are ints (seconds) parsed from text such as "4h" by a before-validator.
    return field.annotation is int and any(isinstance(m, BeforeValidator) for m in field.metadata)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside `Model`, `Model | None` or `list[Model]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list):
        for argument in typing.get_args(annotation):
            found = _nested_model(argument)
            if found is not None:
                return found
    return None
