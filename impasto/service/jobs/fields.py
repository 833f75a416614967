"""The engines' option schemas (:mod:`impasto.options`) as pydantic fields: the REST API's bodies,
the page's form and the job rows take an engine option with the engine's own type, choices, range
and help. Where the service takes less than the engine, :data:`NARROWED` says so, with the reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic import Field as PydanticField

from ...errors import InvalidInput
from ...options import Field

M = TypeVar("M", bound=BaseModel)

#: The service's own limits on engine options (everything else is the engines' range).
NARROWED: dict[str, dict[str, Any]] = {
    "size": {"ge": 64, "le": 2048},  # a shared server paints at most 2048 px (memory: ~7 GiB there)
    "iterations": {"le": 2000},  # a shared server's time: the default is 26, a thousand is plenty
    "style_weight": {"gt": 0, "le": 1e9},  # 0 would paint no style: that is the photo, not a job
    "content_weight": {"gt": 0, "le": 1e9},  # 0 would lose the photo: refused, as are absurd weights
    "time_budget": {"le": 3600},  # at most an hour of a shared server per picture
}


def pydantic_type(field: Field) -> Any:
    """The option's type for pydantic: its ``Literal`` choices and/or its number with its range,
    optional (``None``: the engine's default)."""
    members: list[Any] = []
    if field.choices is not None:
        members.append(Literal[field.choices])
    if field.number is not None or (field.free_text and field.opt.ge is not None):
        number = field.number or float
        members.append(Annotated[number, PydanticField(**_range(field))] if members else number)
    if not members:
        members.append(field.type)
    out: Any = members[0]
    for member in members[1:]:
        out = out | member
    return out | None


def _range(field: Field, **narrowed: Any) -> dict[str, Any]:
    limits = {k: getattr(field.opt, k) for k in ("ge", "le", "gt") if getattr(field.opt, k) is not None}
    return {**limits, **{k: v for k, v in narrowed.items() if k in ("ge", "le", "gt")}}


def pydantic_field(field: Field, description: str | None = None, **narrowed: Any) -> tuple[Any, Any]:
    """``(type, FieldInfo)`` for :func:`pydantic.create_model`: default ``None``, the engine's help
    (or ``description``), and the range (the service's narrower one where :data:`NARROWED` or
    ``narrowed`` has it)."""
    kwargs: dict[str, Any] = {"default": None, "description": description or field.opt.help}
    if field.choices is None:  # a union with choices carries its range on the number (pydantic_type)
        kwargs.update(_range(field, **(narrowed or NARROWED.get(field.name, {}))))
    return pydantic_type(field), PydanticField(**kwargs)


def options_of(model: type[M], values: Mapping[str, Any]) -> M:
    """``model``'s options from loosely typed fields (form strings, JSON), empty values left out;
    refused (:class:`~impasto.errors.InvalidInput`) with the first problem's place and message."""
    try:
        return model.model_validate({k: v for k, v in values.items() if v not in (None, "")})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            f"{where}: {first['msg']}" if where else str(first["msg"]).removeprefix("Value error, "),
            exc.errors(include_url=False, include_context=False, include_input=False),
        ) from None


__all__ = ["NARROWED", "options_of", "pydantic_field", "pydantic_type"]
