// Impasto pages: light enhancements over plain forms (each page works without this file).
"use strict";

function $(sel, root) { return (root || document).querySelector(sel); }
function $$(sel, root) { return Array.from((root || document).querySelectorAll(sel)); }

function showThumbs(input, box) {
  box.replaceChildren();
  for (const file of Array.from(input.files || []).slice(0, 12)) {
    const img = document.createElement("img");
    img.src = URL.createObjectURL(file);
    img.alt = "";
    box.append(img);
  }
}

function setFiles(input, files) {
  const dt = new DataTransfer();
  for (const f of files) if (f.type.startsWith("image/")) dt.items.add(f);
  if (!dt.files.length) return false;
  input.files = input.multiple ? dt.files : (() => { const one = new DataTransfer(); one.items.add(dt.files[0]); return one.files; })();
  input.dispatchEvent(new Event("change"));
  return true;
}

function initCreate() {
  const form = $("#create-form");
  if (!form) return;
  const content = $("#content"), drop = $("#drop"), style = $("#style");
  content.addEventListener("change", () => showThumbs(content, $("#content-thumbs")));
  style.addEventListener("change", () => showThumbs(style, $("#style-thumbs")));
  for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); setFiles(content, e.dataTransfer.files); });
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
  };
  form.addEventListener("change", sync);
  sync();
  const strength = form.querySelector("input[name=strength]"), out = $("#strength-out");
  if (strength && out) strength.addEventListener("input", () => { out.value = strength.value; });
  form.addEventListener("submit", () => { const b = $("#paint"); b.disabled = true; b.textContent = "Starting…"; });
}

function fmtSeconds(s) {
  if (s == null || !isFinite(s)) return "";
  s = Math.max(0, Math.round(s));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s left` : `${s} s left`;
}

function initJob() {
  const box = $("#job");
  if (!box || !window.EventSource) return;
  const id = box.dataset.job;
  const bar = $("#bar"), status = $("#status"), stage = $("#stage"), detail = $("#detail"), eta = $("#eta");
  const preview = $("#preview"), err = $("#error");
  const src = new EventSource(`/api/v1/jobs/${id}/events`);
  const setStatus = (s) => { status.textContent = s; status.className = `badge ${s}`; box.dataset.status = s; };
  src.addEventListener("status", (e) => {
    const d = JSON.parse(e.data);
    setStatus(d.status);
    if (d.error && d.status !== "succeeded") { err.textContent = d.error; err.hidden = false; }
    if (d.message) stage.textContent = d.message;
    if (["succeeded", "failed", "cancelled"].includes(d.status)) {
      $("#cancel-form").hidden = true;
      stage.textContent = d.status === "succeeded" ? "finished" : d.status;
      eta.textContent = ""; detail.textContent = "";
      if (d.status === "succeeded") { bar.value = 1; $("h1").textContent = "Done"; }
    }
  });
  src.addEventListener("stage", (e) => { const d = JSON.parse(e.data); stage.textContent = d.message || d.stage; });
  src.addEventListener("iteration", (e) => {
    const d = JSON.parse(e.data);
    bar.value = d.fraction;
    detail.textContent = `scale ${d.scale}/${d.scales} · step ${d.iteration}/${d.iterations} (${d.size[0]}×${d.size[1]})`;
    eta.textContent = fmtSeconds(d.eta);
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
      fetch(`/api/v1/jobs/${id}`).then((r) => r.json()).then((j) => { if (j.result) $("#see-result").hidden = false; });
    }
  });
}

function initResult() {
  const slider = $("#slider"), before = $("#before");
  if (slider && before) {
    const set = () => { before.style.clipPath = `inset(0 ${100 - slider.value}% 0 0)`; };
    slider.addEventListener("input", set);
    set();
  }
  const stars = $$(".star");
  for (const star of stars) {
    star.addEventListener("mouseenter", () => stars.forEach((s) => s.classList.toggle("hover", +s.dataset.n <= +star.dataset.n)));
    star.addEventListener("mouseleave", () => stars.forEach((s) => s.classList.remove("hover")));
  }
  const again = $("form.again");
  if (again) {
    const sync = () => { const mode = again.querySelector("select[name=mode]").value; for (const el of $$("[data-mode]", again)) el.hidden = el.dataset.mode !== mode; };
    again.addEventListener("change", sync);
    sync();
  }
}

function initConfirm() {
  for (const form of $$("form[data-confirm]")) {
    form.addEventListener("submit", (e) => { if (!window.confirm(form.dataset.confirm)) e.preventDefault(); });
  }
}

document.addEventListener("DOMContentLoaded", () => { initCreate(); initJob(); initResult(); initConfirm(); });
