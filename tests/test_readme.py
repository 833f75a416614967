"""The README says what the product does: its commands, flags and defaults are the CLI's own."""

from __future__ import annotations

import argparse
import re

from support.env import ROOT

from impasto.cli import build_parser
from impasto.quality.options import QualityOptions

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    """The README's ``## title`` section, up to the next ``## ``."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_the_cli_examples_say_where_impasto_is_after_make_run() -> None:
    """`make run` installs into .venv without activating it: `impasto` alone is not on PATH."""
    top = README[: README.index("\n## ")]
    cli = _section("Command line")
    for text in (top, cli):
        assert ".venv/bin/impasto" in text and "source .venv/bin/activate" in text


def test_every_command_in_the_readme_exists() -> None:
    commands = _subparsers(build_parser())
    for section in ("Command line", "Video"):
        for line in re.findall(r"^impasto (\w+)", _section(section), re.M):
            assert line in commands, f"README shows `impasto {line}`, which the CLI does not have"
    styles = _subparsers(commands["styles"])
    for sub in re.findall(r"^impasto styles (\w+)", _section("Command line"), re.M):
        assert sub in styles, f"README shows `impasto styles {sub}`"


def test_every_stylize_flag_in_the_readme_exists() -> None:
    stylize = _subparsers(build_parser())["stylize"]
    flags = {flag for action in stylize._actions for flag in action.option_strings}
    text = _section("Command line")
    for flag in set(re.findall(r"`(--[a-z][a-z-]*)", text)):
        assert flag in flags, f"README names `{flag}`, which `impasto stylize` does not take"


def test_the_iteration_defaults_are_the_engines() -> None:
    photo, draft = QualityOptions().steps, QualityOptions(init="fast").steps
    said = f"default {photo} from the photo, {draft} from a fast draft"
    assert said in _section("Command line")
    stylize = _subparsers(build_parser())["stylize"]
    helps = {a.dest: a.help or "" for a in stylize._actions}
    assert said in helps["iterations"]
