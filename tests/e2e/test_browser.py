"""In a real browser: upload a photo, pick a gallery style, watch it paint, rate it, find it in history.

Screenshots of each page go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

pytestmark = pytest.mark.slow
ALL_IMAGES_LOADED = "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"


def photo(path: Path) -> Path:
    """A small landscape-like picture: sky gradient, hills, a sun."""
    img = Image.new("RGB", (480, 320))
    draw = ImageDraw.Draw(img)
    for y in range(320):
        draw.line([(0, y), (480, y)], fill=(90 + y // 4, 150 + y // 6, 230 - y // 3))
    draw.ellipse([340, 40, 420, 120], fill=(250, 220, 90))
    draw.polygon([(0, 320), (0, 210), (140, 150), (300, 230), (480, 170), (480, 320)], fill=(60, 120, 60))
    draw.rectangle([200, 220, 260, 280], fill=(150, 60, 40))
    img.save(path, "JPEG", quality=92)
    return path


def test_paint_rate_and_find_in_history(live_server: str, page: Any, shot: Any, tmp_path: Path) -> None:
    page.goto(f"{live_server}/")
    page.wait_for_selector(".style-pick img")
    page.set_input_files("#content", str(photo(tmp_path / "landscape.jpg")))
    page.wait_for_selector("#content-thumbs img")
    first_style = page.locator(".style-pick").first
    first_style.click()
    assert first_style.locator("input").is_checked()
    style_name = first_style.locator("input").get_attribute("value")
    page.locator("select[name=size]").select_option("384")
    page.wait_for_function(ALL_IMAGES_LOADED)
    shot(page, "1-create")

    page.click("#paint")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f]{32}$"))
    job_id = page.url.rsplit("/", 1)[1]
    assert page.locator("#status").is_visible() and page.locator("progress#bar").count() == 1
    # progress arrives over Server-Sent Events; the end of the stream reveals the result link
    page.wait_for_selector("#see-result:not([hidden])", timeout=60_000)
    assert page.locator("#status").inner_text() == "succeeded"
    assert float(page.locator("#bar").evaluate("el => el.value")) == 1.0
    shot(page, "2-job")

    page.wait_for_url(f"{live_server}/jobs/{job_id}/result", timeout=15_000)
    page.wait_for_function(ALL_IMAGES_LOADED)
    size = page.locator(".compare img.after").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert max(size) == 384
    page.locator("#slider").fill("20")
    assert "80%" in page.locator("#before").evaluate("el => el.style.clipPath")
    page.click("button.star[data-n='4']")
    page.wait_for_load_state()
    assert page.locator(".star.on").count() == 4 and page.locator("#rating-text").inner_text() == "4/5"
    shot(page, "3-result")

    page.click("header nav >> text=History")
    card = page.locator(f"article[data-job='{job_id}']")
    card.wait_for()
    assert "★★★★☆" in card.inner_text() and str(style_name) in card.inner_text()
    page.select_option("select[name=rating]", "4")
    page.click("form.filters button")
    page.locator(f"article[data-job='{job_id}']").wait_for()
    page.wait_for_function(ALL_IMAGES_LOADED)
    shot(page, "4-history")


def test_form_error_is_shown_on_the_page(live_server: str, page: Any) -> None:
    page.goto(f"{live_server}/")
    page.click("#paint")  # no photo chosen
    alert = page.locator("#form-error")
    alert.wait_for()
    assert "choose a photo" in alert.inner_text()


def test_live_progress_preview_and_cancel(slow_server: str, page: Any, shot: Any, tmp_path: Path) -> None:
    page.goto(f"{slow_server}/")
    page.set_input_files("#content", str(photo(tmp_path / "p.jpg")))
    page.locator(".style-pick").first.click()
    page.click("#paint")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f]{32}$"))
    page.wait_for_selector("#job")
    page.wait_for_function("() => (document.querySelector('#detail')?.textContent || '').includes('step ')")
    page.wait_for_function("() => (document.querySelector('#preview')?.src || '').includes('/previews/')")
    value = float(page.locator("#bar").evaluate("el => el.value"))
    assert 0 < value < 1
    assert page.locator("#status").inner_text() == "running" and "left" in page.locator("#eta").inner_text()
    shot(page, "2b-job-in-progress")
    page.click("#cancel")
    page.wait_for_function("() => document.querySelector('#status')?.textContent === 'cancelled'")
    assert page.locator("#cancel-form").is_hidden()
