// The desk's only script: dropping files, copying links, choosing the language.
// Served from the desk itself (the Content-Security-Policy allows nothing else to run).
"use strict";

function sendFile(file) {
  return file.arrayBuffer().then((body) => fetch("/drop", {
    method: "POST",
    headers: {"Content-Type": "application/octet-stream", "X-File-Name": encodeURIComponent(file.name)},
    body: body,
    credentials: "same-origin",
  }));
}

function sendAll(files) {
  const status = document.getElementById("drop-status");
  if (status) { status.textContent = "…"; }
  return Promise.all(Array.from(files).map(sendFile)).then(() => window.location.reload());
}

document.addEventListener("DOMContentLoaded", () => {
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
