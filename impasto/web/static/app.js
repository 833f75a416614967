// Impasto pages: light enhancements over plain forms (each page works without this file).
"use strict";

function $(sel, root) { return (root || document).querySelector(sel); }
function $$(sel, root) { return Array.from((root || document).querySelectorAll(sel)); }

const IMAGE_SUFFIX = /\.(jpe?g|png|webp|gif|bmp|tiff?|heic|avif)$/i;

function isImage(file) { return file.type ? file.type.startsWith("image/") : IMAGE_SUFFIX.test(file.name); }

// The page's CSRF token (base.html): every state-changing request the page sends carries it.
function csrfToken() { const m = $("meta[name=csrf-token]"); return m ? m.content : ""; }

function mib(bytes) { return `${Math.round(bytes / 1048576)} MiB`; }

// What is wrong with the chosen files, in a sentence, or "" (the server checks again).
function fileProblem(files, maxBytes) {
  const notImages = files.filter((f) => !isImage(f));
  if (notImages.length) {
    const names = notImages.slice(0, 3).map((f) => `“${f.name}”`).join(", ");
    return `${names} ${notImages.length > 1 ? "are not pictures" : "is not a picture"}: choose a JPEG, PNG or WebP photo.`;
  }
  const big = files.filter((f) => maxBytes && f.size > maxBytes);
  if (big.length) return `“${big[0].name}” is larger than ${mib(maxBytes)}: choose a smaller picture.`;
  return "";
}

// Pictures every browser shows: one of these that does not load is not a picture at all (a text
// file named photo.jpg, say). Others (TIFF, HEIC…) may be fine for the server: a named tile instead.
const SHOWABLE = /^image\/(jpeg|png|webp|gif|bmp)$/;

function showThumbs(files, box, refuse) {
  box.replaceChildren();
  for (const file of files.slice(0, 12)) {
    const img = document.createElement("img");
    img.alt = file.name;
    img.addEventListener("error", () => {
      if (SHOWABLE.test(file.type)) { refuse(`“${file.name}” is not a picture: choose a JPEG, PNG or WebP photo.`); return; }
      const tile = document.createElement("span");
      tile.className = "thumb-name";
      tile.textContent = file.name;
      img.replaceWith(tile);
    });
    img.src = URL.createObjectURL(file);
    box.append(img);
  }
}

function setFiles(input, files) {
  const dt = new DataTransfer();
  for (const f of (input.multiple ? files : files.slice(0, 1))) dt.items.add(f);
  if (!dt.files.length) return false;
  input.files = dt.files;
  input.dispatchEvent(new Event("change", { bubbles: true }));
  return true;
}

// Send a form in the background: on a mistake the message appears and every choice, the files
// included, stays as it was (a plain form post would come back without them). Without fetch the
// form posts as usual.
function sendInBackground(form, formError, busy) {
  form.addEventListener("submit", async (e) => {
    if (!window.fetch || !window.DOMParser) return;
    e.preventDefault();
    const button = $("#paint");
    button.disabled = true; button.textContent = busy;
    try {
      const response = await fetch(form.action, { method: "POST", body: new FormData(form), headers: { "x-csrf-token": csrfToken() } });
      if (response.redirected && response.ok) { window.location.href = response.url; return; }
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const message = page.querySelector("#form-error, .error");
      formError.textContent = message && message.textContent.trim() ? message.textContent.trim() : `That did not work (HTTP ${response.status}).`;
    } catch (err) {
      formError.textContent = "The server could not be reached: try again.";
    }
    formError.hidden = false;
    formError.scrollIntoView({ block: "center" });
    button.disabled = false; button.textContent = "Paint it";
  });
}

// The brush slider's value in words at its ends and middle, as a number between them.
function brushWord(v) {
  return { 0: "fine", 0.5: "medium", 1: "broad" }[v] || v.toFixed(2);
}

function initCreate() {
  const form = $("#create-form");
  if (!form) return;
  const maxBytes = +form.dataset.maxBytes || 0;
  const content = $("#content"), drop = $("#drop"), style = $("#style"), formError = $("#form-error");
  const watch = (input, thumbs, errorBox) => {
    const refuse = (problem) => {
      errorBox.textContent = problem;
      errorBox.hidden = !problem;
      if (problem) { input.value = ""; thumbs.replaceChildren(); }
    };
    input.addEventListener("change", () => {
      const files = Array.from(input.files || []);
      refuse(fileProblem(files, maxBytes));
      if (!files.length || !errorBox.hidden) return;
      formError.hidden = true;
      showThumbs(files, thumbs, refuse);
    });
  };
  watch(content, $("#content-thumbs"), $("#content-error"));
  watch(style, $("#style-thumbs"), $("#style-error"));
  // A photo refused on the page is already said beside it: Paint it points there, rather than
  // sending the form for a second message ("Choose a photo to paint") about the same photo.
  const contentError = $("#content-error"), url = form.querySelector("input[name=content_url]");
  form.addEventListener("submit", (e) => {
    if (contentError.hidden || (content.files && content.files.length) || (url && url.value.trim())) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    formError.hidden = true;
    contentError.scrollIntoView({ block: "center" });
    drop.focus({ preventScroll: true });
  });
  for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); setFiles(content, Array.from(e.dataTransfer.files)); });
  document.addEventListener("paste", (e) => {
    const files = Array.from(e.clipboardData ? e.clipboardData.files : []);
    if (files.length && setFiles(content, files)) e.preventDefault();
  });
  // style source tabs and mode-specific options
  const sync = () => {
    const source = (form.querySelector("input[name=style_source]:checked") || {}).value || "gallery";
    for (const el of $$("[data-source]", form)) el.hidden = el.dataset.source !== source;
    const mode = (form.querySelector("input[name=mode]:checked") || {}).value || "fast";
    for (const el of $$("[data-mode]", form)) el.hidden = el.dataset.mode !== mode;
    // each size says what it means in this mode: quality mode's expected time on this server
    for (const option of $$("select[name=size] option", form)) {
      option.textContent = option.dataset[mode] || option.textContent;
    }
  };
  form.addEventListener("change", sync);
  sync();
  const strength = form.querySelector("input[name=strength]"), out = $("#strength-out");
  if (strength && out) strength.addEventListener("input", () => { out.value = strength.value; });
  const brush = form.querySelector("input[name=brush]"), brushOut = $("#brush-out");
  if (brush && brushOut) {
    const said = () => { brushOut.value = brushWord(+brush.value); };
    brush.addEventListener("input", said);
    said();
  }
  initSketches(form, content);
  initRegions(form, content);
  sendInBackground(form, formError, "Starting…");
}

// --- the style strip: once a photo is chosen, each gallery tile shows it painted in that style ---

// The photo as a small JPEG (the server paints sketches of at most 192 px); rejects if the browser
// cannot show it.
async function smallJpeg(file, side) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("no picture"))), "image/jpeg", 0.9));
}

function showSketch(pick, url) {
  const img = $("img", pick);
  if (!img.dataset.painting) img.dataset.painting = img.src;
  img.src = url;
  let inset = $("img.inset", pick);
  if (!inset) {
    inset = document.createElement("img");
    inset.className = "inset";
    inset.alt = "";
    img.after(inset);
  }
  inset.src = img.dataset.painting;
  pick.classList.add("sketched");
}

function clearSketch(pick) {
  const img = $("img", pick), inset = $("img.inset", pick);
  if (img.dataset.painting) img.src = img.dataset.painting;
  if (inset) inset.remove();
  pick.classList.remove("sketched", "sketch-waiting");
}

// One sketch after another, in the background (the page stays usable, and a sketch is no job: it
// never waits behind the queue); a new photo stops the old photo's strip.
function initSketches(form, content) {
  const gallery = $("#gallery", form), hint = $("#sketch-hint", form);
  if (!gallery || !hint || !window.fetch || !window.createImageBitmap) return;
  let run = 0;
  content.addEventListener("change", async () => {
    const mine = ++run, picks = $$(".style-pick", gallery);
    picks.forEach(clearSketch);
    hint.hidden = true;
    const file = Array.from(content.files || [])[0];
    if (!file) return;
    let photo;
    try { photo = await smallJpeg(file, 192); } catch (err) { return; }  // the page says what is wrong
    hint.hidden = false;
    for (const pick of picks) {
      if (mine !== run) return;
      pick.classList.add("sketch-waiting");
      const name = $("input", pick).value;
      const r = await fetch(`/sketches/${encodeURIComponent(name)}`, {
        method: "POST", body: photo, headers: { "content-type": "image/jpeg", "x-csrf-token": csrfToken() },
      }).catch(() => null);
      if (mine !== run) return;
      pick.classList.remove("sketch-waiting");
      if (r && r.ok) showSketch(pick, URL.createObjectURL(await r.blob()));
    }
  });
}

// --- the video page: a clip, a style, how -------------------------------------------------------

const CLIP_SUFFIX = /\.(mp4|m4v|webm|mov|gif)$/i;

function initVideoForm() {
  const form = $("#video-form");
  if (!form) return;
  const maxBytes = +form.dataset.maxBytes || 0;
  const input = $("#video"), name = $("#video-name"), problem = $("#video-error"), formError = $("#form-error");
  input.addEventListener("change", () => {
    const file = (input.files || [])[0];
    let text = "";
    if (file && !(CLIP_SUFFIX.test(file.name) || /^video\/|^image\/gif$/.test(file.type))) {
      text = `“${file.name}” is not a clip: choose an MP4, WebM, MOV or animated GIF.`;
    } else if (file && maxBytes && file.size > maxBytes) {
      text = `“${file.name}” is larger than ${mib(maxBytes)}: choose a shorter clip.`;
    }
    problem.textContent = text;
    problem.hidden = !text;
    if (text) input.value = "";
    name.textContent = file && !text ? file.name : "";
  });
  const drop = $("#video-drop");
  for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); setFiles(input, Array.from(e.dataTransfer.files)); });
  const sync = () => {
    const source = (form.querySelector("input[name=style_source]:checked") || {}).value || "gallery";
    for (const el of $$("[data-source]", form)) el.hidden = el.dataset.source !== source;
    form.querySelector("input[name=stability]").disabled = form.querySelector("select[name=flow]").value === "false";
    form.querySelector("input[name=blend]").disabled = !form.querySelector("select[name=blend_style]").value;
  };
  form.addEventListener("change", sync);
  sync();
  for (const [field, out] of [["strength", "#strength-out"], ["stability", "#stability-out"], ["blend", "#blend-out"]]) {
    const range = form.querySelector(`input[name=${field}]`), shown = $(out);
    range.addEventListener("input", () => { shown.value = range.value; });
  }
  sendInBackground(form, formError, "Uploading…");
}

// --- the job page: progress said for a person, details on hover --------------------------------

function timeLeft(s) {
  if (s == null || !isFinite(s)) return "";
  s = Math.max(0, Math.round(s));
  if (s < 3) return "almost done";
  if (s < 60) return `about ${s} s left`;
  const m = Math.round(s / 60);
  return `about ${m} min left`;
}

const STAGE_WORDS = {
  starting: "Getting ready", loading: "Getting ready", "analysing style": "Studying the style",
  drafting: "Sketching a first draft", painting: "Laying on the paint", "re-queued": "Waiting for its turn",
};
const HEADINGS = { queued: "Waiting…", running: "Painting…", succeeded: "Done", cancelled: "Cancelled", failed: "That did not work" };

function initJob() {
  const box = $("#job");
  if (!box || !window.EventSource) return;
  const id = box.dataset.job;
  const bar = $("#bar"), say = $("#say"), line = $("#status-line"), heading = $("#heading");
  const preview = $("#preview"), err = $("#error"), wrap = $(".progress-wrap");
  // the box takes the picture's shape once it is known (the photo, its previews and the painting
  // share it): no taller than the picture, and the same size from the first preview to the end
  const shape = () => {
    if (preview.classList.contains("shaped") || !preview.naturalWidth) return;
    preview.style.aspectRatio = `${preview.naturalWidth} / ${preview.naturalHeight}`;
    preview.classList.add("shaped");
  };
  if (preview.complete) shape(); else preview.addEventListener("load", shape, { once: true });
  let queueTimer = null;
  const setStatus = (s) => {
    box.dataset.status = s;
    heading.textContent = HEADINGS[s] || s;
    document.title = `${HEADINGS[s] || s} · Impasto`;
    if (s !== "queued" && queueTimer) { clearInterval(queueTimer); queueTimer = null; }
  };
  const finished = (s) => ["succeeded", "failed", "cancelled"].includes(s);
  // how many paintings of the same kind are queued ahead of this one: the server counts them (`ahead`)
  const lookAtQueue = async () => {
    try {
      const job = await fetch(`/api/v1/jobs/${id}`).then((r) => r.json());
      if (box.dataset.status !== "queued" || job.ahead == null) return;
      const ahead = job.ahead;
      say.textContent = ahead === 0 ? "Waiting: yours is next" : `Waiting: ${ahead} painting${ahead > 1 ? "s" : ""} ahead of yours`;
      line.title = `queued since ${new Date(box.dataset.created).toLocaleTimeString()}`;
    } catch (e) { /* the sentence stays as it was */ }
  };
  if (finished(box.dataset.status)) return;  // the page already says how it ended
  // Cancel answers at once, in place: the stream below then says how it ended
  const cancelForm = $("#cancel-form");
  cancelForm.addEventListener("submit", async (e) => {
    if (!window.fetch) return;
    e.preventDefault();
    const button = $("#cancel");
    button.disabled = true; button.textContent = "Cancelling…";
    say.textContent = "Cancelling…";
    const r = await fetch(`/api/v1/jobs/${id}/cancel`, { method: "POST", headers: { "x-csrf-token": csrfToken() } }).catch(() => null);
    if (!r || (!r.ok && r.status !== 409)) {
      button.disabled = false; button.textContent = "Cancel";
      say.textContent = "Could not cancel: try again.";
    }
  });
  if (box.dataset.status === "queued") { lookAtQueue(); queueTimer = setInterval(lookAtQueue, 2000); }

  const src = new EventSource(`/api/v1/jobs/${id}/events`);
  src.addEventListener("status", (e) => {
    const d = JSON.parse(e.data);
    setStatus(d.status);
    if (d.status === "queued") {
      if (!say.textContent.startsWith("Waiting")) say.textContent = "Waiting for its turn…";
      if (!queueTimer) { lookAtQueue(); queueTimer = setInterval(lookAtQueue, 2000); }
    }
    if (d.status === "running" && !say.dataset.progress) say.textContent = "Getting ready…";
    if (finished(d.status)) {
      $("#cancel-form").hidden = true;
      wrap.hidden = true;
      line.title = "";
      if (d.status === "succeeded") { bar.value = 1; say.textContent = "Opening the result…"; }
      if (d.status === "cancelled") {
        say.textContent = /\/previews\/|images\/preview/.test(preview.src) ? "Stopped early: this is the last preview." : "Stopped before it started.";
      }
      if (d.status === "failed") { say.textContent = ""; err.textContent = d.error || "The painting failed."; err.hidden = false; }
    }
  });
  src.addEventListener("stage", (e) => {
    const d = JSON.parse(e.data);
    if (finished(box.dataset.status)) return;
    say.textContent = `${STAGE_WORDS[d.stage] || d.stage}…`;
    line.title = d.message || "";
  });
  src.addEventListener("iteration", (e) => {
    const d = JSON.parse(e.data);
    if (finished(box.dataset.status)) return;
    bar.value = d.fraction;
    const left = timeLeft(d.eta);
    say.dataset.progress = "1";
    if (box.dataset.kind === "video") {  // a step is a frame of the clip
      say.textContent = `Frame ${d.step} of ${d.steps}${left ? ` — ${left}` : ""}`;
      line.title = `${d.size[0]}×${d.size[1]} px`;
      return;
    }
    // the heading says "Painting…"; this line says how far, without repeating it
    say.textContent = left ? `${left[0].toUpperCase()}${left.slice(1)}` : `${Math.round(d.fraction * 100)} % done`;
    const scale = d.scales > 1 ? `scale ${d.scale} of ${d.scales}, ` : "";
    line.title = `${scale}step ${d.iteration} of ${d.iterations} at ${d.size[0]}×${d.size[1]} px`;
  });
  src.addEventListener("preview", (e) => { const d = JSON.parse(e.data); if (d.url) preview.src = d.url; });
  src.addEventListener("end", (e) => {
    src.close();
    const d = JSON.parse(e.data);
    if (d.status === "succeeded" || box.dataset.status === "succeeded") {
      preview.src = `/api/v1/jobs/${id}/images/result?thumb=768`;
      $("#see-result").hidden = false;
      setTimeout(() => { window.location.href = `/jobs/${id}/result`; }, 900);
    } else if (d.status === "cancelled") {
      fetch(`/api/v1/jobs/${id}`).then((r) => r.json()).then((j) => {
        if (!j.result) return;
        say.textContent = "Stopped early: this is the painting as far as it got.";
        preview.src = `/api/v1/jobs/${id}/images/result?thumb=768`;
        const link = $("#see-result");
        link.textContent = "See the painting so far";
        link.hidden = false;
      });
    }
  });
}

// --- the result page: before/after divider, rating in place ------------------------------------

function initCompare() {
  const box = $("#compare"), before = $("#before"), divider = $("#divider");
  if (!box || !before || !divider) return;
  box.classList.add("live");
  const set = (percent) => {
    const p = Math.max(0, Math.min(100, Math.round(percent)));
    before.style.clipPath = `inset(0 ${100 - p}% 0 0)`;
    divider.style.left = `${p}%`;
    divider.setAttribute("aria-valuenow", String(p));
    divider.setAttribute("aria-valuetext", `${p}% photo, ${100 - p}% painting`);
    box.dataset.position = String(p);
  };
  const fromPointer = (e) => { const r = box.getBoundingClientRect(); set(((e.clientX - r.left) / r.width) * 100); };
  box.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    box.setPointerCapture(e.pointerId);
    fromPointer(e);
    divider.focus({ preventScroll: true });
  });
  box.addEventListener("pointermove", (e) => { if (box.hasPointerCapture(e.pointerId)) fromPointer(e); });
  divider.addEventListener("keydown", (e) => {
    const now = +divider.getAttribute("aria-valuenow");
    const step = e.shiftKey ? 10 : 2;
    const to = { ArrowLeft: now - step, ArrowDown: now - step, ArrowRight: now + step, ArrowUp: now + step,
      PageDown: now - 10, PageUp: now + 10, Home: 0, End: 100 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    set(to);
  });
  set(50);
}

function initRating() {
  const form = $("#rating");
  if (!form || !window.fetch) return;
  const stars = $$(".star", form), text = $("#rating-text");
  for (const star of stars) {
    star.addEventListener("mouseenter", () => stars.forEach((s) => s.classList.toggle("hover", +s.dataset.n <= +star.dataset.n)));
    star.addEventListener("mouseleave", () => stars.forEach((s) => s.classList.remove("hover")));
  }
  form.addEventListener("submit", async (e) => {
    const n = e.submitter ? +e.submitter.value : 0;
    if (!n) return;  // the plain form does it
    e.preventDefault();
    try {
      const r = await fetch(form.dataset.api, {
        method: "PUT", headers: { "content-type": "application/json", "x-csrf-token": csrfToken() }, body: JSON.stringify({ rating: n }),
      });
      if (!r.ok) throw new Error(String(r.status));
      const job = await r.json();
      stars.forEach((s) => s.classList.toggle("on", +s.dataset.n <= job.rating));
      text.textContent = `${job.rating}/5 · saved`;
    } catch (err) {
      text.textContent = "could not save the rating: try again";
    }
  });
}

// --- the result page: another strength, redone in place (the same job, link and history entry) --

function initRestrength() {
  const form = $("#restrength");
  if (!form || !window.fetch) return;
  const range = form.elements.strength, out = $("#restrength-out"), said = $("#restrength-said"), go = $("#restrength-go");
  go.hidden = true;  // the slider does it; the button is for pages without script
  let round = 0;
  const redo = async () => {
    const mine = ++round;
    said.textContent = "Painting it again…";
    const r = await fetch(form.action, {
      method: "POST", body: new FormData(form), headers: { accept: "application/json", "x-csrf-token": csrfToken() },
    }).catch(() => null);
    if (mine !== round) return;  // a newer strength is on its way
    if (!r || !r.ok) { said.textContent = "That did not work: try again."; return; }
    const done = await r.json();
    for (const img of $$("img[src*='/images/result']")) {
      const url = new URL(img.src, window.location.href);
      url.searchParams.set("v", String(Date.now()));
      img.src = url.pathname + url.search;
    }
    said.textContent = `Redone at strength ${done.strength}.`;
  };
  range.addEventListener("input", () => { out.value = range.value; });
  range.addEventListener("change", redo);
  form.addEventListener("submit", (e) => { e.preventDefault(); redo(); });
}

function initAgain() {
  const again = $("form.again");
  if (!again) return;
  const sync = () => { const mode = again.querySelector("select[name=mode]").value; for (const el of $$("[data-mode]", again)) el.hidden = el.dataset.mode !== mode; };
  again.addEventListener("change", sync);
  sync();
}

// --- history: cards follow their jobs; a one-time note does not survive a reload ---------------

const LABELS = { succeeded: "done", running: "painting", queued: "waiting", failed: "failed", cancelled: "cancelled" };

function initHistory() {
  const url = new URL(window.location.href);
  if ($("#flash") && (url.searchParams.has("created") || url.searchParams.has("deleted"))) {
    url.searchParams.delete("created");
    url.searchParams.delete("deleted");
    window.history.replaceState(null, "", url.pathname + (url.search || ""));
  }
  const live = () => $$("article.item[data-job]").filter((a) => ["queued", "running"].includes(a.dataset.status));
  if (!live().length || !window.fetch) return;
  const show = (card, job) => {
    card.dataset.status = job.status;
    const badge = $(".badge", card);
    badge.className = `badge ${job.status}`;
    badge.textContent = LABELS[job.status] || job.status;
    const del = $("form.delete", card);
    if (del) del.hidden = job.status === "running";
  };
  const update = (card, job) => {
    if (card.dataset.status === job.status || card.dataset.loading) return;
    if (!job.result) { show(card, job); return; }
    // "done" goes up with the painting, not over the photo while the painting loads
    card.dataset.loading = "1";
    const painting = new Image(), old = $("img", card);
    painting.alt = old.alt;
    painting.addEventListener("load", () => {
      old.replaceWith(painting);
      $("a", card).href = `/jobs/${job.id}/result`;
      show(card, job);
      delete card.dataset.loading;
    });
    painting.addEventListener("error", () => { show(card, job); delete card.dataset.loading; });
    painting.src = `/api/v1/jobs/${job.id}/images/result?thumb=256`;
  };
  const timer = setInterval(async () => {
    const cards = live();
    if (!cards.length) { clearInterval(timer); return; }
    await Promise.all(cards.map((card) => fetch(`/api/v1/jobs/${card.dataset.job}`)
      .then((r) => (r.ok ? r.json() : null)).then((job) => { if (job) update(card, job); }).catch(() => {})));
  }, 1500);
}

function initConfirm() {
  for (const form of $$("form[data-confirm]")) {
    form.addEventListener("submit", (e) => { if (!window.confirm(form.dataset.confirm)) e.preventDefault(); });
  }
}

// --- the styles page: rename and delete saved styles in place (the forms work without this) -----

const NAME_RULE = "A name is lower-case letters and digits, words joined by single hyphens (e.g. ink-wash).";

function initStyles() {
  const list = $("#saved-styles");
  if (!list) return;
  const err = $("#styles-error"), notice = $("#styles-notice");
  const say = (text) => { err.textContent = text || ""; err.hidden = !text; if (text) notice.hidden = true; };
  const tell = (text) => { notice.textContent = text; notice.hidden = false; };
  const problem = async (r) => {
    try { const body = await r.json(); return typeof body.detail === "string" ? body.detail : "That did not work."; }
    catch (e) { return "That did not work."; }
  };
  for (const item of $$(".saved-style", list)) {
    const rename = $(".style-rename", item), remove = $(".style-delete", item);
    // the browser's own "Please match the requested format." does not say what the format is
    const slug = rename.elements.name;
    slug.addEventListener("input", () => slug.setCustomValidity(""));
    slug.addEventListener("invalid", () => {
      if (slug.validity.patternMismatch) slug.setCustomValidity(NAME_RULE);
    });
    rename.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = item.dataset.name;
      const title = rename.elements.title.value.trim(), newName = rename.elements.name.value.trim();
      const body = { title };
      if (newName && newName !== name) body.name = newName;
      const r = await fetch(`/api/v1/styles/${encodeURIComponent(name)}`, {
        method: "PATCH", headers: { "Content-Type": "application/json", "x-csrf-token": csrfToken() }, body: JSON.stringify(body),
      }).catch(() => null);
      if (!r || !r.ok) { say(r ? await problem(r) : "The server did not answer."); return; }
      const style = await r.json();
      say("");
      tell(`Renamed to ${style.title} (${style.name}).`);
      item.dataset.name = style.name;
      rename.action = `/styles/${style.name}/rename`;
      remove.action = `/styles/${style.name}/delete`;
      remove.dataset.title = style.title;
      rename.elements.title.value = style.title;
      rename.elements.name.value = style.name;
      $("img", item).alt = style.title;
      $("a", item).href = `/?style=${style.name}`;
    });
    remove.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!window.confirm(`Delete the style “${remove.dataset.title}”? Paintings made with it stay.`)) return;
      const r = await fetch(`/api/v1/styles/${encodeURIComponent(item.dataset.name)}`, { method: "DELETE", headers: { "x-csrf-token": csrfToken() } })
        .catch(() => null);
      if (!r || (!r.ok && r.status !== 404)) { say(r ? await problem(r) : "The server did not answer."); return; }
      say("");
      tell(`Deleted ${remove.dataset.title}.`);
      item.remove();
      $("#no-saved").hidden = $$(".saved-style", list).length > 0;
    });
  }
}

// --- the share page: the link, copied with one click --------------------------------------------

function initShareLink() {
  const input = $("#share-url"), button = $("#copy-link"), said = $("#copy-said");
  if (!input || !button) return;
  input.addEventListener("focus", () => input.select());
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      said.textContent = "Copied.";
    } catch (err) {
      input.focus();
      input.select();
      said.textContent = document.execCommand && document.execCommand("copy") ? "Copied." : "Selected: copy it with Ctrl+C.";
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  initCreate(); initVideoForm(); initJob(); initCompare(); initRating(); initAgain(); initHistory();
  initConfirm(); initStyles(); initShareLink(); initRestrength();
});

// --- regions: painted over the photo with a brush, sent as masks (white = the region) ---

const REGION_COLOURS = ["rgba(230,80,40,0.5)", "rgba(40,120,230,0.5)", "rgba(40,170,90,0.5)"];

function initRegions(form, content) {
  const box = $("#regions"), canvas = $("#region-canvas");
  if (!box || !canvas || !window.createImageBitmap) return;
  const view = canvas.getContext("2d");
  const styles = $$(".region-style", box);
  let photo = null, layers = [], undo = [], last = null;
  const pick = () => +((box.querySelector("input[name=region-pick]:checked") || {}).value || 0);
  const redraw = () => {
    view.globalCompositeOperation = "source-over";
    view.drawImage(photo, 0, 0, canvas.width, canvas.height);
    layers.forEach((layer, i) => {  // each region in its colour over the photo
      const tint = document.createElement("canvas");
      tint.width = canvas.width; tint.height = canvas.height;
      const t = tint.getContext("2d");
      t.drawImage(layer, 0, 0);
      t.globalCompositeOperation = "source-in";
      t.fillStyle = REGION_COLOURS[i]; t.fillRect(0, 0, tint.width, tint.height);
      view.drawImage(tint, 0, 0);
    });
  };
  const start = async () => {
    const file = content.files.length === 1 ? content.files[0] : null;
    box.hidden = !file;
    if (!file) { photo = null; return; }
    try { photo = await createImageBitmap(file); } catch (err) { photo = null; box.hidden = true; return; }
    const scale = Math.min(1, 640 / Math.max(photo.width, photo.height));
    canvas.width = Math.max(1, Math.round(photo.width * scale));
    canvas.height = Math.max(1, Math.round(photo.height * scale));
    layers = REGION_COLOURS.map(() => {
      const layer = document.createElement("canvas");
      layer.width = canvas.width; layer.height = canvas.height;
      return layer;
    });
    undo = [];
    redraw();
  };
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  };
  const stroke = (e) => {
    const g = layers[pick()].getContext("2d"), p = at(e), from = last || p;
    g.globalCompositeOperation = $("#region-erase").checked ? "destination-out" : "source-over";
    g.strokeStyle = "#fff"; g.lineCap = "round"; g.lineJoin = "round";
    g.lineWidth = +$("#region-size").value * canvas.width / canvas.getBoundingClientRect().width;
    g.beginPath(); g.moveTo(from[0], from[1]); g.lineTo(p[0] + 0.01, p[1]); g.stroke();
    last = p;
    redraw();
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (!photo) return;
    e.preventDefault();
    try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* a pointer the browser no longer tracks */ }
    const i = pick(), g = layers[i].getContext("2d");
    undo.push([i, g.getImageData(0, 0, canvas.width, canvas.height)]);
    last = null;
    stroke(e);
  });
  canvas.addEventListener("pointermove", (e) => { if (last) stroke(e); });
  for (const end of ["pointerup", "pointercancel", "pointerleave"]) canvas.addEventListener(end, () => { last = null; });
  $("#region-undo").addEventListener("click", () => {
    const step = undo.pop();
    if (!step) return;
    layers[step[0]].getContext("2d").putImageData(step[1], 0, 0);
    redraw();
  });
  $("#region-clear").addEventListener("click", () => {
    layers.forEach((layer, i) => {
      const g = layer.getContext("2d");
      undo.push([i, g.getImageData(0, 0, canvas.width, canvas.height)]);
      g.clearRect(0, 0, layer.width, layer.height);
    });
    redraw();
  });
  content.addEventListener("change", start);
  // the painted regions go with the form: a white-on-black mask and its choice for each one used
  form.addEventListener("formdata", (e) => {
    if (!photo || box.hidden) return;
    layers.forEach((layer, i) => {
      const pixels = layer.getContext("2d").getImageData(0, 0, layer.width, layer.height).data;
      let used = false;
      for (let k = 3; k < pixels.length; k += 4) if (pixels[k] > 0) { used = true; break; }
      if (!used) return;
      const mask = document.createElement("canvas");
      mask.width = layer.width; mask.height = layer.height;
      const m = mask.getContext("2d");
      m.fillStyle = "#000"; m.fillRect(0, 0, mask.width, mask.height);
      m.drawImage(layer, 0, 0);
      const bytes = atob(mask.toDataURL("image/png").split(",")[1]);
      const array = new Uint8Array(bytes.length);
      for (let k = 0; k < bytes.length; k++) array[k] = bytes.charCodeAt(k);
      e.formData.append("region_mask", new Blob([array], { type: "image/png" }), `region-${i + 1}.png`);
      e.formData.append("region_style", styles[i].value);
    });
  });
}
