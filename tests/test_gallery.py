"""The style gallery: built-in paintings, lookup by name, user styles, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.data import DATA

import impasto
import impasto.cli
from impasto import gallery
from impasto.errors import ImageError, OptionsError
from impasto.fast import predictor_digest, style_vector, vector_of
from impasto.styles import resolve_styles

BUILTIN = {"starry-night", "the-scream", "shipwreck", "woman-with-hat", "udnie"}


def test_builtin_paintings_are_small_and_described() -> None:
    entries = {e.name: e for e in gallery.list_styles()}
    assert set(entries) == BUILTIN
    for entry in entries.values():
        assert entry.builtin and entry.title and entry.artist and entry.year.isdigit() and entry.licence
        assert entry.path.stat().st_size < 300_000
        assert max(entry.image().size) <= 512
        assert max(entry.thumbnail(64).size) == 64
        assert "vector" not in entry.to_dict()
    notes = (gallery.builtin_dir() / "SOURCES.md").read_text()
    assert all(f"{name}.jpg" in notes for name in BUILTIN) and "public domain" in notes


def test_precomputed_vectors_match_the_paintings() -> None:
    for name in ("starry-night", "udnie"):
        assert np.allclose(gallery.painting_vector(name), style_vector(gallery.get(name).image()), atol=1e-4)


def test_lookup_by_name() -> None:
    style = gallery.style("the-scream", 0.5)
    assert style.weight == 0.5 and style.label == "the-scream" and style.vector is not None
    assert style.vector_digest == predictor_digest()
    [resolved] = resolve_styles("the-scream", by_name=gallery.style)
    assert resolved.label == "the-scream" and resolved.image.size == style.image.size
    with pytest.raises(OptionsError, match=r"known: .*starry-night"):
        gallery.style("mona-lisa")
    with pytest.raises(ImageError, match="no such file"):  # styles alone know no names
        resolve_styles("the-scream")


def test_the_engine_uses_a_carried_vector_only_from_its_own_predictor() -> None:
    style = gallery.style("udnie")
    assert style.vector is not None
    assert np.array_equal(vector_of(style), style.vector)
    stale = replace(style, vector=style.vector + 1.0, vector_digest="0" * 64)
    assert np.allclose(vector_of(stale), style_vector(style.image), atol=1e-5)
    assert style.with_image(style.image).vector is None  # a colour transform drops it


def test_user_style_round_trip(tmp_path: Path) -> None:
    source = Image.open(DATA / "style" / "udnie.jpg").convert("RGB").resize((300, 200))
    entry = gallery.add_style("my-udnie", source, title="Mine", artist="Me", year=2024)
    assert not entry.builtin and entry.path.parent == tmp_path / "impasto-gallery"
    assert [e.name for e in gallery.list_styles()][-1] == "my-udnie"
    again = gallery.get("my-udnie")
    assert (again.title, again.artist, again.year) == ("Mine", "Me", "2024")
    assert np.array_equal(np.asarray(again.image()), np.asarray(source))  # saved losslessly
    assert np.allclose(gallery.painting_vector("my-udnie"), style_vector(source), atol=1e-4)
    painted = impasto.stylize(source.resize((64, 48)), "my-udnie", mode="fast")
    assert painted.size == (64, 48)
    with pytest.raises(OptionsError, match="already"):
        gallery.add_style("my-udnie", source)
    gallery.add_style("my-udnie", source.rotate(90, expand=True), replace=True)
    assert gallery.get("my-udnie").image().size == (200, 300)
    gallery.remove_style("my-udnie")
    assert "my-udnie" not in gallery.names()


@pytest.mark.parametrize("name", ["starry-night", "Bad_Name", "-x", "a--b", ""])
def test_bad_user_style_names(name: str) -> None:
    with pytest.raises(OptionsError):
        gallery.add_style(name, DATA / "style" / "udnie.jpg")


def _cli(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(impasto.cli, "COMMAND_MODULES", ["impasto.cli.gallery"])
    return impasto.cli.main(list(argv))


def test_cli_lists_and_adds(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(monkeypatch, "styles") == 0
    out = capsys.readouterr().out
    assert "starry-night" in out and "Vincent van Gogh" in out and "1889" in out
    image = str(DATA / "style" / "shipwreck.jpg")
    assert _cli(monkeypatch, "styles", "add", "storm", image, "--artist", "Turner", "--year", "1805") == 0
    assert _cli(monkeypatch, "styles") == 0
    assert "storm" in capsys.readouterr().out.splitlines()[-1]


def test_cli_errors_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(monkeypatch, "styles", "add", "Bad Name", str(DATA / "style" / "udnie.jpg")) == 2
    assert "kebab-case" in capsys.readouterr().err
    assert _cli(monkeypatch, "styles", "add", "x", "/no/such/file.jpg") == 2
    assert "no such file" in capsys.readouterr().err
    assert _cli(monkeypatch, "sheet", str(DATA / "content" / "sailboat.jpg"), "-o", "sheet.gif") == 2
    assert "output must end" in capsys.readouterr().err


def test_cli_contact_sheet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = tmp_path / "sheet.png"
    photo = str(DATA / "content" / "sailboat.jpg")
    assert _cli(monkeypatch, "sheet", photo, "-o", str(out), "--size", "48", "--columns", "3") == 0
    sheet = Image.open(out)
    assert sheet.size == (3 * (48 + 8) + 8, 2 * (48 + 18 + 8) + 8)  # original + 5 styles, 3 a row
    cells = np.asarray(sheet.convert("RGB"), dtype=np.float32)
    first = cells[8 + 18 : 8 + 18 + 48, 8 : 8 + 48]
    second = cells[8 + 18 : 8 + 18 + 48, 8 + 56 : 8 + 56 + 48]
    assert np.abs(first - second).mean() > 10  # a painted cell, not a copy of the photo


def test_listing_the_styles_does_not_load_the_engines(tmp_path: Path) -> None:
    """`impasto styles list` answers at once: no PyTorch (seconds to import) for a list of names."""
    script = (
        "import sys; from impasto.cli import main; code = main(['styles', 'list']); "
        "print('torch' in sys.modules); sys.exit(code)"
    )
    env = {**os.environ, "IMPASTO_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "starry-night" in done.stdout and done.stdout.strip().endswith("False")
