"""One typed schema per mode: an engine option's type, choices, range, default and help are written
once, on the engine's options dataclass (:class:`impasto.quality.QualityOptions`,
:class:`impasto.fast.FastOptions`), as ``Annotated[type, Opt(...)]`` fields.

Everything else derives from it:

* the engines' own checks (:func:`check`: choices from the ``Literal`` type, ranges from :class:`Opt`);
* the CLI flags of ``impasto stylize`` (:func:`marked`, :func:`add_cli_flag`: type, range,
  choices, and "(default …)" from the dataclass default);
* the REST API's and the job rows' options (built by the service from :func:`schema`): the same
  type, range and help; where the service deliberately narrows a range it says so in one place,
  naming the reason (:mod:`impasto.service.jobs.fields`).

A new engine option is one field on its dataclass; ``cli=True`` gives it a flag and ``api=True`` a
field in the REST API, the job options and the page's form.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

from .errors import OptionsError


@dataclass(frozen=True)
class Opt:
    """What one engine option means and accepts (beyond its type)."""

    help: str
    ge: float | None = None  # the smallest value allowed
    le: float | None = None  # the largest
    gt: float | None = None  # values must be above this
    unit: str = ""  # said after a number in messages and help (" px", " s")
    cli: bool = False  # ``impasto stylize`` has a flag for it
    api: bool = False  # the REST API, the job options and the page take it
    flag: str | None = None  # the flag's name when not --the-option-name
    metavar: str | None = None
    show_default: bool = True  # say "(default …)" in the flag's help


@dataclass(frozen=True)
class Field:
    """One option of a mode: its name, type, default and :class:`Opt`."""

    name: str
    type: Any
    default: Any
    opt: Opt

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    @property
    def choices(self) -> tuple[str, ...] | None:
        return literal_choices(self.type)

    @property
    def number(self) -> type | None:
        """``int`` or ``float`` when the option is a number (else None)."""
        if self.free_text:
            return None
        kinds = [t for t in _members(self.type) if t in (int, float)]
        return float if float in kinds else int if kinds else None

    @property
    def free_text(self) -> bool:
        """Any text is taken too (a brush's "0.3", an init's file name): the engine checks it."""
        return str in _members(self.type)

    @property
    def optional(self) -> bool:
        return type(None) in _members(self.type)


def _members(tp: Any) -> tuple[Any, ...]:
    if get_origin(tp) in (Union, types.UnionType):
        return tuple(m for arg in get_args(tp) for m in _members(arg))
    return (tp,)


def literal_choices(tp: Any) -> tuple[str, ...] | None:
    """The strings a ``Literal`` (possibly inside ``X | None``) allows."""
    found = [a for m in _members(tp) if get_origin(m) is Literal for a in get_args(m)]
    return tuple(found) if found else None


@cache
def schema(cls: type) -> dict[str, Field]:
    """The options of an engine's dataclass that carry an :class:`Opt`, by name."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if get_origin(hint) is not typing.Annotated:
            continue
        base, *extras = get_args(hint)
        opt = next((e for e in extras if isinstance(e, Opt)), None)
        if opt is not None:
            out[f.name] = Field(f.name, base, f.default, opt)
    return out


def either(choices: tuple[str, ...]) -> str:
    """``a, b or c``."""
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


def bounds(field: Field) -> str:
    """The range in words: "between 16 and 16384 px", "at least 0", "above 0"."""
    o = field.opt
    if o.ge is not None and o.le is not None:
        return f"between {o.ge:g} and {o.le:g}{o.unit}"
    if o.gt is not None:
        return f"above {o.gt:g}{o.unit}" + (f" and at most {o.le:g}{o.unit}" if o.le is not None else "")
    if o.ge is not None:
        return f"at least {o.ge:g}{o.unit}"
    return f"at most {o.le:g}{o.unit}" if o.le is not None else "a number"


def problem(field: Field, value: Any) -> str | None:
    """Why ``value`` is not allowed for ``field`` (None: it is)."""
    if value is None:
        return None if field.optional else f"{field.label} is required"
    choices, free_text = field.choices, field.free_text
    if choices is not None and isinstance(value, str) and not free_text:
        return None if value in choices else f"unknown {field.label} {value!r}: use {either(choices)}"
    number = field.number
    if number is None:
        if choices is None or free_text or isinstance(value, str):
            return None
        return f"{field.label} must be {either(choices)}, not {value!r}"
    allowed = (int,) if number is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, allowed):
        noun = "a whole number" if number is int else "a number"
        return f"{field.label} must be {noun}, not {value!r}"
    if not math.isfinite(value):
        return f"{field.label} must be a finite number, not {value}"
    o = field.opt
    if (
        (o.ge is not None and value < o.ge)
        or (o.le is not None and value > o.le)
        or (o.gt is not None and value <= o.gt)
    ):
        return f"{field.label} must be {bounds(field)}, not {value:g}"
    return None


def check(options: Any) -> None:
    """Refuse (:class:`~impasto.errors.OptionsError`) the first option of ``options`` (an engine's
    dataclass) that its schema does not allow."""
    for field in schema(options.__class__).values():
        message = problem(field, getattr(options, field.name))
        if message:
            raise OptionsError(message)


def default_text(field: Field) -> str:
    value = field.default
    if value is None or value is dataclasses.MISSING or isinstance(value, bool):
        return ""
    return f" (default {value:g})" if isinstance(value, int | float) else f" (default {value})"


# --- the CLI --------------------------------------------------------------------------------


def marked(flag: Literal["cli", "api"], *classes: type) -> dict[str, Field]:
    """The options whose :class:`Opt` says ``flag`` (a CLI flag, a REST field), by name, in order;
    an option of several classes is the first one's (its help is used)."""
    out: dict[str, Field] = {}
    for cls in classes:
        for name, field in schema(cls).items():
            if getattr(field.opt, flag):
                out.setdefault(name, field)
    return out


def _parser(field: Field) -> Callable[[str], Any]:
    """An argparse type: the value within the option's range, refused at once with the range."""
    number = field.number

    def parse(text: str) -> Any:
        try:
            value = (number or str)(text)
        except ValueError:
            noun = "a whole number" if number is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        message = problem(field, value)
        if message:
            raise argparse.ArgumentTypeError(message.split(" must ", 1)[-1].replace("be ", "must be ", 1))
        return value

    parse.__name__ = "int" if number is int else "number"
    return parse


def add_cli_flag(parser: argparse.ArgumentParser, field: Field, help_prefix: str = "") -> None:
    """``--the-option`` for ``field``: its type, range, choices and help from the schema."""
    flag = field.opt.flag or "--" + field.name.replace("_", "-")
    text = help_prefix + field.opt.help + (default_text(field) if field.opt.show_default else "")
    if field.type is bool or field.type == "bool":
        parser.add_argument(
            flag, dest=field.name, action="store_false", default=None, help=text
        )  # --no-x: the default is on
        return
    kwargs: dict[str, Any] = {"dest": field.name, "help": text, "metavar": field.opt.metavar}
    if field.choices is not None and not field.free_text:
        kwargs["choices"] = list(field.choices)
    elif field.number is not None and field.choices is None:
        kwargs["type"] = _parser(field)
    parser.add_argument(flag, **kwargs)


__all__ = [
    "Field",
    "Opt",
    "add_cli_flag",
    "check",
    "either",
    "literal_choices",
    "marked",
    "schema",
]
