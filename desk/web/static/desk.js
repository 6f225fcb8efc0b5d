// The desk's only script: dropping files, copying links, choosing the language.
// Served from the desk itself (the Content-Security-Policy allows nothing else to run).
"use strict";

// A file over the desk's bound (the drop zone's data-max-bytes) is not sent: the page names it
// and its size, and the desk lists it as refused, as it would after reading it.
function sendFile(file, maxBytes) {
  const headers = {"Content-Type": "application/octet-stream", "X-File-Name": encodeURIComponent(file.name)};
  const tooLarge = file.size > maxBytes;
  if (tooLarge) { headers["X-File-Size"] = String(file.size); }
  return fetch("/drop", {method: "POST", headers: headers, body: tooLarge ? null : file, credentials: "same-origin"});
}

function sendAll(files) {
  const status = document.getElementById("drop-status");
  if (status) { status.textContent = "…"; }
  const maxBytes = Number(document.getElementById("dropzone").dataset.maxBytes);
  return Promise.all(Array.from(files).map((file) => sendFile(file, maxBytes)))
    .then(() => window.location.reload());
}

// The idle lock, seen from the page: what is on screen goes when the desk locks, and a caseworker
// who is reading or typing (which makes no request) tells the desk they are still there.
function watchIdle() {
  const lockAfter = Number(document.querySelector("meta[name=sanad-lock-after]").content) * 1000;
  let lastActivity = Date.now();
  let lastPing = Date.now();
  for (const kind of ["keydown", "mousemove", "mousedown", "scroll", "touchstart"]) {
    document.addEventListener(kind, () => { lastActivity = Date.now(); }, {passive: true});
  }
  setInterval(() => {
    const now = Date.now();
    if (now - lastActivity > lockAfter) {
      fetch("/lock", {method: "POST", credentials: "same-origin"})
        .finally(() => window.location.replace("/unlock"));
    } else if (lastActivity > lastPing && now - lastPing > Math.min(30000, lockAfter / 4)) {
      lastPing = now;
      fetch("/alive", {method: "POST", credentials: "same-origin"}).then((response) => {
        if (response.status === 401) window.location.replace("/unlock");
      });
    }
  }, Math.min(5000, lockAfter / 4));
}

document.addEventListener("DOMContentLoaded", () => {
  if (window.location.pathname !== "/unlock") watchIdle();
  const zone = document.getElementById("dropzone");
  if (zone) {
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      sendAll(event.dataTransfer.files);
    });
  }
  const pick = document.getElementById("pick");
  if (pick) { pick.addEventListener("change", () => sendAll(pick.files)); }
  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", () => navigator.clipboard.writeText(button.dataset.copy));
  }
  for (const select of document.querySelectorAll("select.autosubmit")) {
    select.addEventListener("change", () => select.form.submit());
  }
});
