"""In a real browser, with every request outside the machine refused: upload a photo, pick a gallery
style, watch it paint, compare, rate it in place, find it in history; the API docs; mistakes on the
form; waiting, cancelling, and history following its jobs.

Screenshots of each page at 1440×900 and 390×844 go to ``test-artifacts/``.
"""

from __future__ import annotations

import base64
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from support.clips import make_clip, shapes
from support.images import png

pytestmark = pytest.mark.slow
ALL_IMAGES_LOADED = "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"
JOB_URL = re.compile(r".*/jobs/[0-9a-f]{32}$")


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


def test_paint_compare_rate_and_find_in_history(
    live_server: str, page: Any, shot: Any, tmp_path: Path
) -> None:
    page.goto(f"{live_server}/")
    page.wait_for_selector(".style-pick img")
    # the Paint button is in view on a laptop screen without scrolling
    box = page.locator("#paint").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 900
    # the strength label sits in line with the other option labels
    strength, size = (page.locator(f".step .grid > label:has([name={n}])") for n in ("strength", "size"))
    assert strength.bounding_box()["y"] == size.bounding_box()["y"]
    assert strength.bounding_box()["height"] == size.bounding_box()["height"]
    page.set_input_files("#content", str(photo(tmp_path / "landscape.jpg")))
    page.wait_for_selector("#content-thumbs img")
    first_style = page.locator(".style-pick:has(input[value*='-'])").first  # a slug of two words
    first_style.click()
    assert first_style.locator("input").is_checked()
    slug = str(first_style.locator("input").get_attribute("value"))
    title = first_style.inner_text().strip()
    page.locator("select[name=size]").select_option("384")
    page.wait_for_function(ALL_IMAGES_LOADED)
    shot(page, "1-create")

    page.click("#paint")
    page.wait_for_url(JOB_URL)
    job_id = page.url.rsplit("/", 1)[1]
    assert page.locator("progress#bar").count() == 1
    assert f"Landscape in the style of {title}" in page.locator("#job").inner_text()
    # progress arrives over Server-Sent Events; the end of the stream reveals the result link
    page.wait_for_selector("#see-result:not([hidden])", timeout=60_000)
    assert page.locator("#job").get_attribute("data-status") == "succeeded"
    assert page.locator("#heading").inner_text() == "Done"
    shot(page, "2-job-done")

    page.wait_for_url(f"{live_server}/jobs/{job_id}/result", timeout=15_000)
    page.wait_for_function(ALL_IMAGES_LOADED)
    heading = page.locator("h1").inner_text()
    assert heading == f"Landscape in the style of {title}" and slug not in heading
    size = page.locator(".compare img.after").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert max(size) == 384
    # before/after: a divider on the picture, dragged or moved with the arrow keys
    compare = page.locator("#compare")
    assert compare.locator(".tag.photo").inner_text() == "photo"
    assert compare.locator(".tag.painting").inner_text() == "painting"
    cbox = compare.bounding_box()
    page.mouse.move(cbox["x"] + cbox["width"] * 0.5, cbox["y"] + cbox["height"] / 2)
    page.mouse.down()
    page.mouse.move(cbox["x"] + cbox["width"] * 0.2, cbox["y"] + cbox["height"] / 2, steps=5)
    page.mouse.up()
    divider = page.locator("#divider")
    assert abs(int(divider.get_attribute("aria-valuenow") or -1) - 20) <= 1
    assert "80%" in page.locator("#before").evaluate("el => el.style.clipPath")
    divider.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert abs(int(divider.get_attribute("aria-valuenow") or -1) - 24) <= 1
    page.keyboard.press("End")
    assert divider.get_attribute("aria-valuenow") == "100"
    divider.press("Home")
    page.keyboard.press("Shift+ArrowRight")
    assert divider.get_attribute("aria-valuenow") == "10"
    # rating happens in place: no reload, no jump to the top
    page.evaluate("() => { window.sameDocument = true; }")
    page.click("button.star[data-n='4']")
    page.wait_for_function("() => document.querySelector('#rating-text').textContent.startsWith('4/5')")
    assert page.evaluate("() => window.sameDocument === true")
    assert page.locator(".star.on").count() == 4
    # page.request shares the browser's identity cookie (a job is its owner's alone)
    assert page.request.get(f"{live_server}/api/v1/jobs/{job_id}").json()["rating"] == 4
    assert httpx.get(f"{live_server}/api/v1/jobs/{job_id}").status_code == 404  # anyone else
    page.click("#share-create")  # a read-only link, then open it
    link = page.locator("a.share-link").first.get_attribute("href")
    assert link and link.startswith("/s/")
    page.goto(f"{live_server}{link}")
    page.wait_for_function(ALL_IMAGES_LOADED)
    assert page.locator("img[alt=painting]").count() == 1
    assert page.locator("img[alt='the photo']").count() == 0  # the owner did not include it
    page.go_back()
    shot(page, "3-result")

    page.click("header nav >> text=History")
    card = page.locator(f"article[data-job='{job_id}']")
    card.wait_for()
    assert "★★★★☆" in card.inner_text() and title in card.inner_text() and slug not in card.inner_text()
    assert title in page.locator("select[name=style]").inner_text()
    page.select_option("select[name=rating]", "4")
    page.click("form.filters button")
    page.locator(f"article[data-job='{job_id}']").wait_for()
    page.wait_for_function(ALL_IMAGES_LOADED)
    shot(page, "4-history")


def test_every_page_renders_offline(live_server: str, page: Any, shot: Any, tmp_path: Path) -> None:
    """The API docs too: Swagger UI comes from the package, not a CDN."""
    page.goto(f"{live_server}/docs")
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=30_000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    assert "Impasto" in page.locator(".swagger-ui .info").inner_text()
    shot(page, "6-api-docs")
    assert page.request.get(f"{live_server}/favicon.ico").status == 200
    page.goto(f"{live_server}/no/such/page")
    assert page.locator("h1").inner_text() == "Not found"
    page.wait_for_function(ALL_IMAGES_LOADED)
    shot(page, "7-not-found")
    for path in ("/", "/history"):
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state("networkidle")
        page.wait_for_function(ALL_IMAGES_LOADED)


def test_form_mistakes_keep_the_choices(live_server: str, page: Any, shot: Any, tmp_path: Path) -> None:
    page.goto(f"{live_server}/")
    drop = page.locator("#drop")
    before = drop.bounding_box()
    # not a picture: said at once, nothing half-chosen, the drop zone keeps its size
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list")
    page.set_input_files("#content", str(notes))
    message = page.locator("#content-error")
    message.wait_for()
    assert "“notes.txt” is not a picture" in message.inner_text()
    assert page.locator("#content-thumbs img").count() == 0
    assert page.locator("#content").evaluate("i => i.files.length") == 0
    assert drop.bounding_box()["height"] == before["height"]
    shot(page, "1b-create-not-a-picture")
    # a mistake the server finds: the message appears, and the photo and options stay chosen
    page.set_input_files("#content", str(photo(tmp_path / "hills.jpg")))
    assert message.is_hidden()
    page.check("input[name=mode][value=quality]")
    page.select_option("select[name=size]", "768")
    page.check("input[name=style_source][value=upload]")
    page.click("#paint")
    error = page.locator("#form-error")
    error.wait_for()
    assert error.inner_text().startswith("Choose a style")
    assert page.url == f"{live_server}/"
    assert page.locator("#content").evaluate("i => i.files.length") == 1
    assert page.locator("#content-thumbs img").count() == 1
    assert page.locator("input[name=mode][value=quality]").is_checked()
    assert page.locator("select[name=size]").input_value() == "768"
    shot(page, "1c-create-error")


def test_no_photo_is_said_on_the_page(live_server: str, page: Any) -> None:
    page.goto(f"{live_server}/")
    page.click("#paint")
    alert = page.locator("#form-error")
    alert.wait_for()
    assert alert.inner_text().startswith("Choose a photo")


def test_live_progress_preview_and_a_calm_cancel(
    slow_server: str, page: Any, shot: Any, tmp_path: Path
) -> None:
    page.goto(f"{slow_server}/")
    page.set_input_files("#content", str(photo(tmp_path / "p.jpg")))
    page.locator(".style-pick", has_text="Slow Sky").click()
    page.click("#paint")
    page.wait_for_url(JOB_URL)
    job_id = page.url.rsplit("/", 1)[1]
    page.wait_for_function("() => document.querySelector('#say').textContent.startsWith('About')")
    page.wait_for_function("() => (document.querySelector('#preview')?.src || '').includes('/previews/')")
    value = float(page.locator("#bar").evaluate("el => el.value"))
    assert 0 < value < 1
    say = page.locator("#say").inner_text()
    assert re.fullmatch(r"About \d+ (s|min) left|Almost done", say), say
    assert page.locator("#job").inner_text().count("Painting") == 1  # the heading only (issue 14)
    details = page.locator("#status-line").get_attribute("title") or ""
    assert "step" in details and "px" in details  # the details are there on hover
    assert "P in the style of Slow Sky" in page.locator("#job").inner_text()
    size = {k: v for k, v in page.locator("#preview").bounding_box().items() if k in ("width", "height")}
    shot(page, "2b-job-in-progress")
    page.click("#cancel")
    page.wait_for_function("() => document.querySelector('#job')?.dataset.status === 'cancelled'")
    page.wait_for_selector("#see-result:not([hidden])")
    text = page.locator("#job").inner_text()
    assert page.locator("#heading").inner_text() == "Cancelled"
    assert text.lower().count("cancel") == 1 and "Painting…" not in text, text
    assert page.locator("#say").inner_text() == "Stopped early: this is the painting as far as it got."
    assert page.locator("#error").is_hidden() and page.locator("#cancel-form").is_hidden()
    page.wait_for_function(ALL_IMAGES_LOADED)
    after = page.locator("#preview").bounding_box()
    assert {"width": after["width"], "height": after["height"]} == size  # the picture keeps its size
    job = page.request.get(f"{slow_server}/api/v1/jobs/{job_id}").json()
    assert job["status"] == "cancelled" and job["error"] is None and job["result"] is not None
    shot(page, "2c-job-cancelled")
    page.reload()  # and the same calm page when it is opened later
    assert page.locator("#heading").inner_text() == "Cancelled"
    assert page.locator("#say").inner_text() == "Stopped early: this is the painting as far as it got."
    assert page.locator("#error").is_hidden()


def test_waiting_in_line_and_history_following_its_jobs(
    gated_server: tuple[str, threading.Event], page: Any, shot: Any, tmp_path: Path
) -> None:
    base, gate = gated_server
    page.goto(f"{base}/")
    photos = [str(photo(tmp_path / f"{name}.jpg")) for name in ("one", "two", "three")]
    page.set_input_files("#content", photos)
    page.locator(".style-pick", has_text="Gate Sky").click()
    page.click("#paint")
    # the one-time note is not left in the address (a reload would show it again)
    page.wait_for_function("() => location.pathname === '/history' && location.search === ''")
    assert page.locator("#flash").inner_text().startswith("3 paintings started")
    cards = page.locator("article.item")
    assert cards.count() == 3
    page.wait_for_function(
        "() => document.querySelectorAll('article.item[data-status=running]').length === 2"
    )
    waiting = page.locator("article.item[data-status=queued]")
    assert waiting.locator(".badge").inner_text() == "waiting"
    waiting_id = waiting.get_attribute("data-job")
    shot(page, "4b-history-live")
    # the waiting job's own page says where it is in the line, once
    other = page.context.new_page()
    other.goto(f"{base}/jobs/{waiting_id}")
    other.wait_for_function("() => document.querySelector('#say').textContent.startsWith('Waiting: ')")
    # both workers are busy and it is first in line: the job's exact `ahead` (queued jobs before it)
    assert other.locator("#say").inner_text() == "Waiting: yours is next"
    assert other.locator("#job").inner_text().lower().count("wait") == 2  # the heading and the line
    shot(other, "2a-job-waiting")
    other.close()
    gate.set()
    # the cards follow their jobs without a reload
    page.wait_for_function(
        "() => [...document.querySelectorAll('article.item')].every(a => a.dataset.status === 'succeeded')",
        timeout=30_000,
    )
    assert [cards.nth(i).locator(".badge").inner_text() for i in range(3)] == ["done"] * 3
    page.wait_for_function(
        "() => [...document.querySelectorAll('article.item img')].every(i => i.src.includes('images/result'))"
    )
    page.reload()
    assert page.locator("#flash").count() == 0


def test_styles_are_renamed_and_deleted_in_place(
    gated_server: tuple[str, threading.Event], page: Any, shot: Any
) -> None:
    base, _ = gated_server
    page.goto(f"{base}/styles")  # the visit gives the browser its identity; then it saves a style
    body = {"name": "Dusk", "image": base64.b64encode(png(60, 40, (200, 90, 40))).decode()}
    assert page.request.post(f"{base}/api/v1/styles", data=body).status == 201
    page.reload()
    assert page.locator(".public-styles li").count() == 1  # the admin's Gate Sky: shown, not editable
    row = page.locator(".saved-style")
    assert row.count() == 1
    page.evaluate("window.notReloaded = true")
    row.locator("input[name=title]").fill("Evening Sky")
    row.locator("input[name=name]").fill("evening-sky")
    row.locator(".style-rename button").click()
    page.wait_for_function("() => document.querySelector('.saved-style').dataset.name === 'evening-sky'")
    assert page.request.get(f"{base}/api/v1/styles/evening-sky/image").status == 200
    assert httpx.get(f"{base}/api/v1/styles/evening-sky/image").status_code == 404  # private
    shot(page, "5-styles")
    page.once("dialog", lambda dialog: dialog.dismiss())  # "no": nothing happens
    row.locator(".style-delete button").click()
    assert page.locator(".saved-style").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".style-delete button").click()
    page.wait_for_function("() => document.querySelectorAll('.saved-style').length === 0")
    assert page.locator("#no-saved").is_visible() and page.evaluate("window.notReloaded") is True
    names = [s["name"] for s in page.request.get(f"{base}/api/v1/styles").json() if not s["public"]]
    assert names == []


def test_paint_a_clip_watch_it_frame_by_frame_and_play_it(
    clip_server: str, page: Any, shot: Any, tmp_path: Path
) -> None:
    """The video page: a clip in, "Frame N of 12" with the painted frame as the preview, then the
    painted MP4 in a ``<video>`` that Chromium decodes (H.264, yuv420p)."""
    clip = make_clip(tmp_path / "walk.mp4", [shapes(i, 128, 96) for i in range(12)], audio="aac")
    base = clip_server
    page.goto(f"{base}/video")
    page.set_input_files("#video", str(clip))
    assert page.locator("#video-name").inner_text() == "walk.mp4"
    page.locator(".style-pick:has(input[value=clip-sky])").click()
    page.locator("select[name=flow]").select_option("false")
    assert page.locator("input[name=stability]").is_disabled()  # no steadying: nothing to set
    page.locator("select[name=flow]").select_option("true")
    page.wait_for_function(ALL_IMAGES_LOADED)
    shot(page, "8-video-create")
    page.click("#paint")
    page.wait_for_url(JOB_URL)
    page.wait_for_function("() => /^Frame \\d+ of 12 — /.test(document.querySelector('#say').textContent)")
    page.wait_for_function("() => document.querySelector('#preview').src.includes('/previews/')")
    shot(page, "9-video-progress")
    page.wait_for_url(re.compile(r".*/result$"), timeout=60_000)
    page.wait_for_function(
        "() => { const v = document.querySelector('video#painted-video'); return v && v.readyState >= 2; }",
        timeout=30_000,
    )
    video = page.locator("video#painted-video")
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [128, 96]
    assert video.evaluate("v => v.duration") == pytest.approx(1.0, abs=0.1)
    href = page.locator("#download-video").get_attribute("href")
    assert href is not None and href.endswith("/video?download=true")
    shot(page, "10-video-result")
