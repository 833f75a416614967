"""The decoded-pixel budget shared by concurrent uploads (issue 13, "Bounds")."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from support.fakes import FakeEngine
from support.images import png
from support.web import client_for

from impasto import imageio
from impasto.errors import Unavailable
from impasto.service.guards.pixels import PixelBudget
from impasto.service.jobs import core as jobs
from impasto.service.jobs import queries


def test_a_spent_budget_waits_then_refuses() -> None:
    budget = PixelBudget(100, wait=0.0)
    with budget.hold(80):
        with pytest.raises(Unavailable, match="too many large pictures") as caught, budget.hold(30):
            pass
        assert (caught.value.retry_after or 0) > 0
        with budget.hold(20):  # what is left still goes
            assert budget.in_flight == 100
    with budget.hold(10_000):  # larger than the whole budget: alone, clamped
        assert budget.in_flight == 100
    assert budget.in_flight == 0


def test_a_waiting_upload_goes_when_another_finishes() -> None:
    budget = PixelBudget(100, wait=60.0)
    held, done = threading.Event(), threading.Event()

    def second() -> None:
        held.wait()
        with budget.hold(60):
            done.set()

    thread = threading.Thread(target=second)
    with budget.hold(60):
        thread.start()
        held.set()
        assert not done.wait(0.1)  # it waits while the first holds the budget
    assert done.wait(30)
    thread.join()


def _post(client: Any, photo: bytes) -> Any:
    files = [("content", ("p.png", photo, "image/png")), ("style", ("s.png", png(), "image/png"))]
    return client.post("/api/v1/jobs", files=files, data={"mode": "fast"})


def test_concurrent_uploads_share_the_budget(
    tmp_path: Path, db_url: str, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = png(80, 60)  # 4,800 px; the budget lets about two decode at once
    decoding, peak, lock = [0], [0], threading.Lock()
    real = imageio.load_image

    def slow_decode(data: bytes, **kwargs: Any) -> Any:
        width, height = imageio.image_size(data)
        with lock:
            decoding[0] += width * height
            peak[0] = max(peak[0], decoding[0])
        time.sleep(0.05)  # lets the requests overlap; nothing is asserted about time
        try:
            return real(data, **kwargs)
        finally:
            with lock:
                decoding[0] -= width * height

    monkeypatch.setattr(jobs, "load_image", slow_decode)
    budget = 2 * 4800 + 64 * 48
    settings = {"decode_budget": budget, "decode_wait": 120.0}
    with client_for(tmp_path, db_url, engine, **settings) as client:
        with ThreadPoolExecutor(8) as pool:
            codes = [r.status_code for r in pool.map(lambda _: _post(client, photo), range(8))]
        assert codes == [201] * 8
        assert 4800 <= peak[0] <= budget, peak  # eight at once would be 8 × 4,800 + styles
        assert client.app.state.runtime.pixels.in_flight == 0  # type: ignore[attr-defined]  # every hold was given back


def test_an_upload_over_the_budget_gets_503_with_retry_after(
    tmp_path: Path, db_url: str, engine: FakeEngine
) -> None:
    with client_for(tmp_path, db_url, engine, decode_budget=10_000, decode_wait=0.0) as client:
        budget = client.app.state.runtime.pixels  # type: ignore[attr-defined]
        with budget.hold(10_000):  # other uploads are decoding
            busy = _post(client, png(80, 60))
        assert busy.status_code == 503 and int(busy.headers["retry-after"]) > 0
        assert "too many large pictures" in busy.json()["detail"]
        assert _post(client, png(80, 60)).status_code == 201


def test_thumbnails_open_only_the_listed_formats() -> None:
    import io

    from PIL import Image, UnidentifiedImageError

    assert queries.thumbnail(png(80, 60), 32)[:2] == b"\xff\xd8"  # a JPEG thumbnail
    ppm = io.BytesIO()
    Image.new("RGB", (80, 60)).save(ppm, "PPM")  # Pillow reads PPM, the docs do not list it
    with pytest.raises(UnidentifiedImageError):
        queries.thumbnail(ppm.getvalue(), 32)
