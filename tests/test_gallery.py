"""The style gallery: built-in paintings, lookup by name, user styles, the CLI."""

from __future__ import annotations

import os
import re
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
from impasto.gallery.build import PAINTINGS
from impasto.styles import resolve_styles

BUILTIN = set(PAINTINGS)
MOVEMENTS = ("impressionism", "pointillism", "ukiyo-e", "expressionism", "fauvism", "cubism", "abstraction")


def test_builtin_paintings_are_many_small_and_described() -> None:
    """At least 20 public-domain works across movements, each with its title, artist, year, licence,
    a small file, and a row in SOURCES.md saying where it was found."""
    entries = {e.name: e for e in gallery.list_styles()}
    assert set(entries) == BUILTIN and len(BUILTIN) >= 20
    assert {"starry-night", "the-scream", "shipwreck", "woman-with-hat", "udnie"} <= BUILTIN  # names kept
    notes = (gallery.builtin_dir() / "SOURCES.md").read_text()
    for entry in entries.values():
        assert entry.builtin and entry.title and entry.artist and entry.licence == "public domain"
        assert re.search(r"\d", entry.year), entry.year
        assert entry.path.stat().st_size < 300_000
        assert max(entry.image().size) <= 512
        assert max(entry.thumbnail(64).size) == 64
        assert "vector" not in entry.to_dict()
        row = next(line for line in notes.splitlines() if line.startswith(f"| {entry.name}.jpg |"))
        assert entry.artist in row and entry.year in row, row
    assert all(movement in notes for movement in MOVEMENTS)


def test_precomputed_vectors_match_the_paintings() -> None:
    for entry in gallery.builtin_styles():
        assert np.allclose(gallery.painting_vector(entry.name), style_vector(entry.image()), atol=1e-4), (
            entry.name
        )


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
    rows = -(-(1 + len(BUILTIN)) // 3)  # the original, then every style, 3 a row
    assert sheet.size == (3 * (48 + 8) + 8, rows * (48 + 18 + 8) + 8)
    cells = np.asarray(sheet.convert("RGB"), dtype=np.float32)
    first = cells[8 + 18 : 8 + 18 + 48, 8 : 8 + 48]
    second = cells[8 + 18 : 8 + 18 + 48, 8 + 56 : 8 + 56 + 48]
    assert np.abs(first - second).mean() > 10  # a painted cell, not a copy of the photo


def test_cli_shows_the_styles_thumbnails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`impasto styles --sheet FILE`: every style's picture, labelled, next to the list."""
    out = tmp_path / "styles.png"
    assert _cli(monkeypatch, "styles", "--sheet", str(out)) == 0
    assert f"wrote {out} ({len(BUILTIN)} styles)" in capsys.readouterr().out
    sheet = np.asarray(Image.open(out).convert("RGB"), dtype=np.float32)
    rows = -(-len(BUILTIN) // 6)
    assert sheet.shape[:2] == (rows * (160 + 18 + 8) + 8, 6 * (160 + 8) + 8)
    wave = np.asarray(gallery.get("great-wave").thumbnail(160).convert("RGB"), dtype=np.float32)
    names = sorted(BUILTIN)
    row, col = divmod(names.index("great-wave"), 6)
    x, y = 8 + col * 168, 8 + row * 186 + 18 + (160 - wave.shape[0]) // 2
    cell = sheet[y : y + wave.shape[0], x + (160 - wave.shape[1]) // 2 :][:, : wave.shape[1]]
    assert np.abs(cell - wave).mean() < 3  # the painting's own thumbnail, in its place
    assert _cli(monkeypatch, "styles", "list", "--sheet", str(tmp_path / "s.gif")) == 2


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
