"""What a new user meets first (issue 24): refused photos said once, renames that say what a name
may be and that they worked, History that says "done" only over the painting."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from support.clips import make_clip, shapes

from .test_browser import ALL_IMAGES_LOADED, photo

pytestmark = pytest.mark.slow


def _visible_errors(page: Any) -> list[str]:
    return [e.inner_text() for e in page.locator(".error").all() if e.is_visible()]


def test_a_refused_photo_is_said_once_and_never_as_a_broken_picture(
    gated_server: tuple[str, threading.Event], page: Any, tmp_path: Path
) -> None:
    base, _ = gated_server
    page.goto(f"{base}/")
    # a text file with a picture's name: the browser cannot show it, so it is said at once
    fake = tmp_path / "notaphoto.jpg"
    fake.write_text("shopping list")
    page.set_input_files("#content", str(fake))
    page.wait_for_function("() => !document.querySelector('#content-error').hidden")
    assert "“notaphoto.jpg” is not a picture" in page.locator("#content-error").inner_text()
    assert page.locator("#content-thumbs img").count() == 0
    assert page.locator("#content").evaluate("i => i.files.length") == 0
    # a photo over the size limit: one message beside it, and Paint it does not add a second
    big = tmp_path / "huge.jpg"
    with big.open("wb") as f:
        f.truncate(26 * 1024 * 1024)
    page.set_input_files("#content", str(big))
    assert "“huge.jpg” is larger than 25 MiB" in page.locator("#content-error").inner_text()
    page.click("#paint")
    assert _visible_errors(page) == [page.locator("#content-error").inner_text()]
    assert page.url == f"{base}/"
    # a good photo clears it
    page.set_input_files("#content", str(photo(tmp_path / "hills.jpg")))
    page.wait_for_function(ALL_IMAGES_LOADED)
    assert _visible_errors(page) == []


def test_a_rename_says_what_a_name_may_be_and_that_it_worked(
    gated_server: tuple[str, threading.Event], page: Any
) -> None:
    import base64

    from support.images import png

    base, _ = gated_server
    page.goto(f"{base}/styles")
    body = {"name": "Dusk", "image": base64.b64encode(png(60, 40, (200, 90, 40))).decode()}
    assert page.request.post(f"{base}/api/v1/styles", data=body).status == 201
    page.reload()
    row = page.locator(".saved-style")
    name = row.locator("input[name=name]")
    name.fill("Bad Name!")
    row.locator(".style-rename button").click()
    message = name.evaluate("i => i.validationMessage")
    assert "lower-case" in message and "ink-wash" in message, message
    name.fill("evening-sky")
    row.locator(".style-rename button").click()
    notice = page.locator("#styles-notice")
    notice.wait_for()
    assert notice.inner_text() == "Renamed to Dusk (evening-sky)."


def test_history_says_done_only_with_the_painting_in_view(
    gated_server: tuple[str, threading.Event], page: Any, tmp_path: Path
) -> None:
    base, gate = gated_server
    page.goto(f"{base}/")
    page.set_input_files("#content", [str(photo(tmp_path / f"{n}.jpg")) for n in ("one", "two")])
    page.locator(".style-pick", has_text="Gate Sky").click()
    page.click("#paint")
    page.wait_for_function("() => location.pathname === '/history'")
    # every time a badge changes, note whether its card shows the painting, loaded
    page.evaluate(
        """() => {
        window.seen = [];
        new MutationObserver(() => {
          for (const card of document.querySelectorAll('article.item')) {
            if (card.querySelector('.badge').textContent !== 'done') continue;
            const img = card.querySelector('img');
            window.seen.push(img.src.includes('images/result') && img.complete && img.naturalWidth > 0);
          }
        }).observe(document.querySelector('.cards'), {subtree: true, childList: true, characterData: true});
      }"""
    )
    gate.set()
    page.wait_for_function(
        "() => [...document.querySelectorAll('article.item .badge')].every(b => b.textContent === 'done')",
        timeout=30_000,
    )
    seen = page.evaluate("window.seen")
    assert seen and all(seen), seen


def test_the_api_docs_lead_back_and_show_a_request_that_runs(
    gated_server: tuple[str, threading.Event], page: Any, shot: Any
) -> None:
    base, _ = gated_server
    page.goto(f"{base}/docs")
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=30_000)
    stylize = page.locator(".opblock:has([data-path='/api/v1/stylize'])")
    stylize.locator(".opblock-summary").click()
    example = stylize.locator(".body-param__example, .example.microlight, pre.microlight").first
    example.wait_for()
    text = example.inner_text()
    assert '"style_name": "starry-night"' in text and '"content": "string"' not in text, text[:300]
    shot(page, "6b-api-docs-stylize")
    page.locator("#back-to-app a").click()
    page.wait_for_url(f"{base}/")
    assert page.locator("h1").inner_text() == "Turn a photo into a painting"


def test_cancel_answers_at_once_in_place(slow_server: str, page: Any, tmp_path: Path) -> None:
    page.goto(f"{slow_server}/")
    page.set_input_files("#content", str(photo(tmp_path / "p.jpg")))
    page.locator(".style-pick", has_text="Slow Sky").click()
    page.click("#paint")
    page.wait_for_function("() => document.querySelector('#job')?.dataset.status === 'running'")
    # every text the status line and the button show, in order
    page.evaluate(
        """() => {
        window.sameDocument = true;
        window.said = [];
        const note = () => window.said.push(document.querySelector('#say').textContent + ' | ' +
          document.querySelector('#cancel').textContent);
        new MutationObserver(note).observe(document.querySelector('#job'),
          {subtree: true, childList: true, characterData: true});
        // progress may change the line until the click: keep only what follows it
        document.addEventListener('click', () => { window.said = []; }, {capture: true});
      }"""
    )
    page.click("#cancel")
    page.wait_for_function("() => document.querySelector('#job').dataset.status === 'cancelled'")
    page.wait_for_selector("#see-result:not([hidden])")
    said = page.evaluate("window.said")
    assert said[0] == "Cancelling… | Cancelling…", said  # before the server has answered
    assert page.evaluate("window.sameDocument") is True  # no page load
    assert page.locator("#heading").inner_text() == "Cancelled"
    assert page.locator("#see-result").inner_text() == "See the painting so far"


def _painted(page: Any, base: str, tmp_path: Path, style: str) -> str:
    """A finished painting of the landscape (the page's own form), and its result page's URL."""
    page.goto(f"{base}/")
    page.set_input_files("#content", str(photo(tmp_path / "chicago.jpg")))
    page.locator(".style-pick", has_text=style).click()
    page.click("#paint")
    page.wait_for_url(re.compile(r".*/result$"), timeout=30_000)
    return str(page.url)


def test_a_shared_painting_is_large_compares_previews_and_copies(
    gated_server: tuple[str, threading.Event], page: Any, shot: Any, tmp_path: Path
) -> None:
    base, gate = gated_server
    gate.set()
    result = _painted(page, base, tmp_path, "Gate Sky")
    page.check("input[name=include_photo]")
    page.click("#share-create")
    link = page.locator("a.share-link").first
    assert link.inner_text() == f"{base}{link.get_attribute('href')}"  # the absolute link, to copy
    page.goto(link.inner_text())
    page.wait_for_function(ALL_IMAGES_LOADED)
    url = page.url
    # a pasted link previews: absolute og:image, a title, a large card
    meta = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('meta[property], meta[name]')]"
        ".map(m => [m.getAttribute('property') || m.getAttribute('name'), m.content]))"
    )
    assert meta["og:title"] == "A painting in the style of Gate Sky"
    assert meta["og:image"].startswith(f"{url}/painting") and meta["twitter:card"] == "summary_large_image"
    preview = page.request.get(meta["og:image"])
    assert preview.status == 200 and preview.headers["content-type"] == "image/jpeg"
    # large, with the before/after slider
    assert page.locator(".compare img.after").bounding_box()["width"] > 600
    divider = page.locator("#divider")
    divider.focus()
    page.keyboard.press("Home")
    assert divider.get_attribute("aria-valuenow") == "0"
    # the link, copied with one click
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    assert page.locator("#share-url").input_value() == url
    page.click("#copy-link")
    page.wait_for_function("() => document.querySelector('#copy-said').textContent === 'Copied.'")
    assert page.evaluate("() => navigator.clipboard.readText()") == url
    shot(page, "11-share")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the painting fills the width
    box = page.locator(".compare img.after").bounding_box()
    assert box["width"] >= 350, box  # of 390
    page.set_viewport_size({"width": 1440, "height": 900})
    assert result.endswith("/result")


def test_a_painted_clip_can_be_shared(clip_server: str, page: Any, shot: Any, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "walk.mp4", [shapes(i, 128, 96) for i in range(6)])
    page.goto(f"{clip_server}/video")
    page.set_input_files("#video", str(clip))
    page.locator(".style-pick:has(input[value=clip-sky])").click()
    page.click("#paint")
    page.wait_for_url(re.compile(r".*/result$"), timeout=60_000)
    stars, pictures = page.locator("#rating").bounding_box(), page.locator(".triptych").bounding_box()
    assert pictures["y"] - (stars["y"] + stars["height"]) >= 12  # the stars do not touch the pictures
    page.click("#share-create")
    page.goto(page.locator("a.share-link").first.inner_text())
    page.wait_for_function(
        "() => { const v = document.querySelector('video#shared-video'); return v && v.readyState >= 2; }",
        timeout=30_000,
    )
    assert page.locator("video#shared-video").evaluate("v => [v.videoWidth, v.videoHeight]") == [128, 96]
    og = page.locator("meta[property='og:video']").get_attribute("content")
    assert og == f"{page.url}/video"
    title = page.locator("meta[property='og:title']").get_attribute("content")
    assert title == "A clip in the style of Clip Sky"
    shot(page, "12-share-clip")


FITS = """sel => {
  const style = getComputedStyle(sel), ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${style.fontSize} ${style.fontFamily}`;
  const text = ctx.measureText(sel.options[sel.selectedIndex].text).width;
  const room = sel.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 16;
  return [text, room];
}"""


def test_create_fits_a_laptop_and_a_phone(
    gated_server: tuple[str, threading.Event], page: Any, shot: Any
) -> None:
    base, _ = gated_server
    page.goto(f"{base}/")
    for mode in ("fast", "quality"):  # the Size box shows all of what its choice says
        page.check(f"input[name=mode][value={mode}]")
        text, room = page.locator("select[name=size]").evaluate(FITS)
        assert text <= room, (mode, text, room)
    page.check("input[name=mode][value=fast]")
    brush = page.locator("#brush-out")  # the Brush slider says its value, as Strength does
    assert brush.inner_text() == "medium"
    page.locator("input[name=brush]").fill("1")
    assert brush.inner_text() == "broad"
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") == 390  # nothing sticks out sideways
    tops = {round(a.bounding_box()["y"]) for a in page.locator("header nav a").all()}
    assert len(tops) == 1, tops  # one line, API included
    paint = page.locator("#paint").bounding_box()
    assert paint["y"] >= 0 and paint["y"] + paint["height"] <= 844  # Paint it in reach at once
    page.locator(".step-how").scroll_into_view_if_needed()
    paint = page.locator("#paint").bounding_box()
    assert paint["y"] >= 0 and paint["y"] + paint["height"] <= 844
    shot(page, "1d-create-phone")


def test_the_progress_box_is_the_pictures_size_and_cancel_in_view(
    slow_server: str, page: Any, shot: Any, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{slow_server}/")
    page.set_input_files("#content", str(photo(tmp_path / "p.jpg")))
    page.locator(".style-pick", has_text="Slow Sky").click()
    page.click("#paint")
    page.wait_for_function("() => document.querySelector('#preview.shaped')")
    box = page.locator(".preview").bounding_box()
    picture = page.locator("#preview").bounding_box()
    assert box["height"] - picture["height"] <= 24, (box, picture)  # its padding, no more
    cancel = page.locator("#cancel").bounding_box()
    assert cancel["y"] + cancel["height"] <= 844, cancel
    for size in ({"width": 1440, "height": 900}, {"width": 1280, "height": 720}):
        page.set_viewport_size(size)
        cancel = page.locator("#cancel").bounding_box()
        assert cancel["y"] + cancel["height"] <= size["height"], (size, cancel)
    shot(page, "2d-job-progress-layout")
    page.click("#cancel")


def test_the_gallery_shows_the_photo_in_every_style_before_choosing(
    live_server: str, page: Any, shot: Any, tmp_path: Path
) -> None:
    page.goto(f"{live_server}/")
    jobs_before = page.request.get(f"{live_server}/api/v1/jobs").json()["total"]
    picks = page.locator("#gallery .style-pick")
    count = picks.count()
    assert count >= 2
    page.set_input_files("#content", str(photo(tmp_path / "harbour.jpg")))
    page.locator("#sketch-hint").wait_for()  # shown once the photo is read
    # the page stays usable while the strip fills in
    page.check("input[name=mode][value=quality]")
    page.check("input[name=mode][value=fast]")
    done = f"() => document.querySelectorAll('#gallery .style-pick.sketched').length === {count}"
    page.wait_for_function(done, timeout=120_000)
    for i in range(count):
        sketch = picks.nth(i).locator("img").first
        assert (sketch.get_attribute("src") or "").startswith("blob:")
        assert 0 < sketch.evaluate("i => Math.max(i.naturalWidth, i.naturalHeight)") <= 192
        assert picks.nth(i).locator("img.inset").count() == 1  # the painting itself, small
    last = picks.nth(count - 1)
    last.click()  # choosing one is clicking it
    assert last.locator("input").is_checked()
    # sketches are not jobs: nothing was queued, nothing is kept
    assert page.request.get(f"{live_server}/api/v1/jobs").json()["total"] == jobs_before
    page.wait_for_function(ALL_IMAGES_LOADED)
    shot(page, "1e-create-style-strip")


def test_the_strength_is_redone_in_place_on_the_result_page(
    live_server: str, page: Any, shot: Any, tmp_path: Path
) -> None:
    page.goto(f"{live_server}/")
    page.set_input_files("#content", str(photo(tmp_path / "quay.jpg")))
    page.locator("select[name=size]").select_option("256")
    page.click("#paint")
    page.wait_for_url(re.compile(r".*/result$"), timeout=60_000)
    result_url = page.url
    job_id = result_url.rsplit("/", 2)[1]
    page.evaluate("() => { window.sameDocument = true; }")
    before = page.locator(".compare img.after").get_attribute("src")
    page.locator("#restrength input[name=strength]").fill("0.4")
    page.locator("#restrength input[name=strength]").dispatch_event("change")
    said = "() => document.querySelector('#restrength-said').textContent.startsWith('Redone')"
    page.wait_for_function(said)
    assert page.locator("#restrength-said").inner_text() == "Redone at strength 0.4."
    assert page.evaluate("window.sameDocument") is True and page.url == result_url
    assert page.locator(".compare img.after").get_attribute("src") != before  # the new picture
    page.wait_for_function(ALL_IMAGES_LOADED)
    job = page.request.get(f"{live_server}/api/v1/jobs/{job_id}").json()
    assert job["options"]["strength"] == 0.4 and job["status"] == "succeeded"
    shot(page, "3b-result-restrength")
    page.goto(f"{live_server}/history")  # the history entry still leads to it
    card = page.locator(f"article[data-job='{job_id}'] a").first
    assert card.get_attribute("href") == f"/jobs/{job_id}/result"


def test_the_styles_page_shows_every_painting_and_paints_with_it(
    gated_server: tuple[str, threading.Event], page: Any, shot: Any
) -> None:
    """The built-in gallery (20+ works): each card shows the painting, says what it is, and leads to
    Create with it chosen."""
    from impasto.gallery.build import PAINTINGS

    base, _ = gated_server
    page.goto(f"{base}/styles")
    cards = page.locator(".style-cards li")
    assert cards.count() == len(PAINTINGS) >= 20
    for img in page.locator(".style-cards img").all():
        img.scroll_into_view_if_needed()
    page.wait_for_function(ALL_IMAGES_LOADED)
    wave = cards.filter(has_text="The Great Wave off Kanagawa")
    assert "Katsushika Hokusai (c. 1831)" in wave.inner_text()
    shot(page, "13-styles")
    wave.get_by_role("link", name="Paint with it").click()
    page.wait_for_url(f"{base}/?style=great-wave")
    assert page.locator("input[name=style_name][value=great-wave]").is_checked()


TOUCH_STROKE = """(el, [y, xs]) => {
  const r = el.getBoundingClientRect();
  const at = (type, x) => el.dispatchEvent(new PointerEvent(type, {
    pointerId: 7, pointerType: "touch", isPrimary: true, bubbles: true, cancelable: true,
    clientX: r.left + x * r.width, clientY: r.top + y * r.height }));
  at("pointerdown", xs[0]);
  for (const x of xs.slice(1)) at("pointermove", x);
  at("pointerup", xs[xs.length - 1]);
}"""


def test_regions_are_painted_with_a_brush_by_mouse_and_touch(
    gated_server: tuple[str, threading.Event], page: Any, tmp_path: Path, shot: Any
) -> None:
    """Issue 25: after choosing a photo, "Paint regions": a brush over the photo (mouse, touch),
    one colour per region with its own choice, Undo; the job gets the masks and shows them."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    from .test_browser import JOB_URL

    base, _ = gated_server
    page.goto(f"{base}/")
    assert page.locator("#regions").is_hidden()  # nothing to paint over before a photo
    page.set_input_files("#content", str(photo(tmp_path / "hills.jpg")))
    page.locator("#regions summary").click()
    canvas = page.locator("#region-canvas")
    canvas.wait_for()
    box = canvas.bounding_box()
    # region 1, with the mouse: a stroke along the top, in The Scream
    page.locator(".region-style").nth(0).select_option("the-scream")
    page.mouse.move(box["x"] + 8, box["y"] + 12)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 8, box["y"] + 12, steps=10)
    page.mouse.up()
    # region 2, by touch: a stroke along the bottom, the photo kept; then one more stroke, undone
    page.check("input[name=region-pick][value='1']")
    canvas.evaluate(TOUCH_STROKE, [0.85, [0.3, 0.4, 0.5, 0.6, 0.7]])
    canvas.evaluate(TOUCH_STROKE, [0.5, [0.02, 0.05]])
    page.click("#region-undo")
    shot(page, "14-regions")
    page.click("#paint")
    page.wait_for_url(JOB_URL)
    job_id = page.url.rsplit("/", 1)[1]
    regions = page.request.get(f"{base}/api/v1/jobs/{job_id}").json()["options"]["regions"]
    assert [r["style"] for r in regions] == ["the-scream", "keep"]
    masks = [
        np.asarray(Image.open(io.BytesIO(base64.b64decode(r["mask"].split(",", 1)[1]))), float) / 255
        for r in regions
    ]
    top, bottom = masks
    rows, cols = top.shape
    assert top[: rows // 8].mean() > 0.3 and top[rows // 2 :].max() < 0.1  # the mouse's stroke
    assert bottom[int(rows * 0.8) :, int(cols * 0.35) : int(cols * 0.65)].mean() > 0.3  # the finger's
    assert bottom[int(rows * 0.4) : int(rows * 0.6), : int(cols * 0.08)].max() < 0.1  # undone
    assert page.locator(".job-regions li").count() == 2
    assert "region 2: the photo kept" in page.locator(".job-regions").inner_text()
