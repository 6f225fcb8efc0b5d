// Sanad sandbox page: renders the two simulated users' chats from the local Bot API server.
//
// Each chat is followed by long-polling /_local/chats/{id}/events; when its version moves, the
// page reads the chat's snapshot and brings the list in line with it: new messages are added,
// edited ones redrawn, deleted ones fade out (the reporter's chat is erased before your eyes).
// Text is always set with textContent, never parsed as HTML: the bot echoes what people type.
// Each message takes the direction of its own first strong letter (dir="auto"), so an Arabic
// message that starts with a number or a command still reads right to left. What the user's
// app shows only as a brief pop-up (the bot's answer to a button) is also written into the
// chat's log here, so it cannot be missed. Files are sent as the user's app sends them: picked
// or dropped on a window, and voice notes recorded where the browser can record Telegram's
// format (Ogg Opus), or the sample one.
"use strict";

const EVENT_WAIT_SECONDS = 20;
const RETRY_MS = 2000;
const FADE_MS = 900;
// A receipt: seven groups of four digits, in Western, Arabic-Indic or Persian digits.
const RECEIPT = /[0-9\u0660-\u0669\u06F0-\u06F9]{4}(?:[ -][0-9\u0660-\u0669\u06F0-\u06F9]{4}){6}/;
const CASE_LINE = /^Case: (\S+)/m;
// Picture types a Telegram app sends as a photo (compressed); anything else goes as a file.
const PHOTO_TYPES = new Set(["image/jpeg", "image/png", "image/webp"]);
const VOICE_TYPE = "audio/ogg;codecs=opus";
const SAMPLE_VOICE = "/sample-voice.ogg";

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function setStatus(text) {
  document.querySelector(".status").textContent = text;
}

async function call(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.description || response.statusText);
  }
  return data;
}

async function upload(path, kind, blob, details = {}) {
  const query = new URLSearchParams({kind, ...details});
  const response = await fetch(`${path}?${query}`, {
    method: "POST",
    headers: {"Content-Type": "application/octet-stream"},
    body: blob,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.description || response.statusText);
  return data;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB`
    : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

class ChatView {
  constructor(root, chatId, maxFileBytes, {onMessage = () => {}, onOpen = null} = {}) {
    this.root = root;
    this.chatId = chatId;
    this.maxFileBytes = maxFileBytes;
    this.list = root.querySelector(".messages");
    this.input = root.querySelector(".composer input");
    this.onMessage = onMessage;
    this.onOpen = onOpen;
    this.version = -1; // of the snapshot drawn
    this.seen = 0; // of the events read
    this.shown = new Map(); // message_id -> {signature, node}
    root.querySelector(".composer").addEventListener("submit", (e) => this.send(e));
    this.acceptFiles();
  }

  async follow() {
    for (;;) {
      try {
        const wait = this.version < 0 ? 0 : EVENT_WAIT_SECONDS;
        const data = await call(
          `/_local/chats/${this.chatId}/events?since=${this.seen}&wait=${wait}`);
        if (data.version !== this.version) await this.refresh();
        for (const event of data.events) this.note(event);
        this.seen = data.version;
        setStatus("");
      } catch (error) {
        setStatus("The sandbox does not answer: is `sanad try` still running?");
        await sleep(RETRY_MS);
      }
    }
  }

  async refresh() {
    const snapshot = await call(`/_local/chats/${this.chatId}`);
    this.version = snapshot.version;
    this.render(snapshot.messages);
  }

  render(messages) {
    const present = new Set();
    let added = false;
    for (const message of messages) {
      present.add(message.message_id);
      const signature = JSON.stringify(message);
      const known = this.shown.get(message.message_id);
      if (known && known.signature === signature) continue;
      const node = this.draw(message);
      if (known) {
        known.node.replaceWith(node);
      } else {
        this.list.append(node);
        added = true;
      }
      this.shown.set(message.message_id, {signature, node});
      this.onMessage(message);
    }
    for (const [id, item] of this.shown) {
      if (present.has(id)) continue;
      this.shown.delete(id);
      item.node.classList.add("gone");
      setTimeout(() => item.node.remove(), FADE_MS);
    }
    if (added) this.list.scrollTop = this.list.scrollHeight;
  }

  // A pop-up the user's app showed for a button press, kept in the log (it is not a message
  // of the chat: erasing the chat does not take it away, and the phone never kept it).
  note(event) {
    if (event.kind !== "callback_answered" || !event.text) return;
    const node = element("li", "notice");
    node.dir = "auto";
    const label = element("span", "label",
                          event.show_alert ? "Shown as an alert:" : "Shown briefly as a pop-up:");
    label.dir = "ltr"; // not what the direction of the notice is taken from
    node.append(label, element("p", "text", event.text));
    this.list.append(node);
    this.list.scrollTop = this.list.scrollHeight;
  }

  draw(message) {
    const node = element("li", `message ${message.from_bot ? "from-bot" : "from-user"}`);
    node.dataset.messageId = message.message_id;
    // The whole bubble (text, caption, buttons) takes the direction of its first letter.
    node.dir = "auto";
    if (message.text !== null) node.append(element("p", "text", message.text));
    for (const [kind, label] of [["document", null], ["photo", "Photo"], ["voice", "Voice note"]]) {
      if (message[kind]) node.append(this.drawFile(message, message[kind], label));
    }
    if (message.caption !== null) node.append(element("p", "caption", message.caption));
    if (message.buttons.length) node.append(this.drawKeyboard(message));
    // Telegram's apps do not mark a bot's edited message that carries buttons as "edited".
    if (message.edited && !(message.from_bot && message.buttons.length)) {
      node.append(element("span", "edited", "edited"));
    }
    return node;
  }

  drawFile(message, file, label) {
    const box = element("div", "file");
    const name = file.file_name || label || "file";
    const title = element("span", "name", `${name} (${sizeText(file.size)})`);
    title.dir = "auto"; // a file name keeps its own direction inside the bubble's
    const link = element("a", "download", "Download");
    link.href = `/_local/chats/${this.chatId}/messages/${message.message_id}/file`;
    link.download = name;
    box.append(title, link);
    if (this.onOpen && name.endsWith(".sanad")) {
      const open = element("button", "open", "Open with sanad caseworker open");
      open.type = "button";
      open.addEventListener("click", () => this.onOpen(message.message_id, open));
      box.append(open);
    }
    return box;
  }

  drawKeyboard(message) {
    const keyboard = element("div", "keyboard");
    for (const row of message.buttons) {
      const line = element("div", "row");
      for (const button of row) {
        const press = element("button", null, button.text);
        press.type = "button";
        if (button.callback_data === null) {
          press.disabled = true;
        } else {
          press.addEventListener("click", () => this.press(message.message_id, button, keyboard));
        }
        line.append(press);
      }
      keyboard.append(line);
    }
    return keyboard;
  }

  async press(messageId, button, keyboard) {
    for (const other of keyboard.querySelectorAll("button")) other.disabled = true;
    try {
      await call(`/_local/chats/${this.chatId}/press`,
                 {message_id: messageId, callback_data: button.callback_data});
    } catch (error) {
      setStatus(`That button is no longer there: ${error.message}`);
      for (const other of keyboard.querySelectorAll("button")) other.disabled = false;
    }
  }

  // Files: the "Attach" button, a drop anywhere on the window, and (reporter) voice notes.
  acceptFiles() {
    const picker = this.root.querySelector(".files");
    this.root.querySelector(".attach").addEventListener("click", () => picker.click());
    picker.addEventListener("change", async () => {
      await this.sendFiles([...picker.files]);
      picker.value = "";
    });
    this.root.addEventListener("dragover", (event) => {
      event.preventDefault();
      this.root.classList.add("dropping");
    });
    this.root.addEventListener("dragleave", () => this.root.classList.remove("dropping"));
    this.root.addEventListener("drop", async (event) => {
      event.preventDefault();
      this.root.classList.remove("dropping");
      await this.sendFiles([...event.dataTransfer.files]);
    });
  }

  async sendFiles(files) {
    const asFiles = this.root.querySelector(".as-files");
    for (const file of files) {
      const asPhoto = PHOTO_TYPES.has(file.type) && !(asFiles && asFiles.checked);
      await this.sendFile(asPhoto ? "photo" : "document", file, {
        file_name: file.name || "file", mime_type: file.type || "application/octet-stream",
      });
    }
  }

  async sendFile(kind, blob, details = {}) {
    const name = details.file_name || "the voice note";
    if (blob.size > this.maxFileBytes) {
      setStatus(`Not sent: ${name} is ${sizeText(blob.size)}; this server takes files of up to ` +
                `${sizeText(this.maxFileBytes)}.`);
      return;
    }
    try {
      await upload(`/_local/chats/${this.chatId}/files`, kind,
                   blob, kind === "document" ? details : {});
    } catch (error) {
      setStatus(`Not sent: ${error.message}`);
    }
  }

  async send(event) {
    event.preventDefault();
    const text = this.input.value;
    if (!text.trim()) return;
    try {
      await call(`/_local/chats/${this.chatId}/messages`, {text});
      this.input.value = "";
    } catch (error) {
      setStatus(`Not sent: ${error.message}`);
    }
  }
}

function keepReceipt(reporterRoot) {
  const notebook = reporterRoot.querySelector(".notebook");
  const receipt = notebook.querySelector(".receipt");
  const input = reporterRoot.querySelector(".composer input");
  notebook.querySelector(".use-receipt").addEventListener("click", () => {
    input.value = receipt.textContent;
    input.focus();
  });
  return (message) => {
    const found = message.from_bot && message.text && message.text.match(RECEIPT);
    if (!found) return;
    receipt.textContent = found[0];
    notebook.hidden = false;
  };
}

function caseworkerComputer(caseworkerRoot) {
  const terminal = caseworkerRoot.querySelector(".terminal");
  const input = caseworkerRoot.querySelector(".composer input");
  return async (messageId, button) => {
    button.disabled = true;
    terminal.hidden = false;
    terminal.classList.remove("failed");
    terminal.querySelector(".command").textContent = "$ sanad caseworker open …";
    terminal.querySelector(".output").textContent = "";
    try {
      const result = await call("/_try/open", {message_id: messageId});
      terminal.querySelector(".command").textContent =
        `$ SANAD_PASSPHRASE=… ${result.command}\n(exit status ${result.exit_code})`;
      terminal.querySelector(".output").textContent = result.output;
      terminal.classList.toggle("failed", result.exit_code !== 0);
      const reference = result.output.match(CASE_LINE);
      if (reference && !input.value) input.value = `/reply ${reference[1]} `;
      const desk = terminal.querySelector(".desk");
      desk.hidden = !result.desk_url;
      if (result.desk_url) desk.querySelector("a").href = result.desk_url;
    } catch (error) {
      terminal.classList.add("failed");
      terminal.querySelector(".output").textContent = error.message;
    } finally {
      button.disabled = false;
    }
  };
}

// A voice note recorded here where the browser records Ogg Opus (Telegram's voice format);
// elsewhere the button stays hidden and the sample voice note is offered alone.
function voiceNotes(root, chat) {
  root.querySelector(".sample-voice").addEventListener("click", async () => {
    try {
      const response = await fetch(SAMPLE_VOICE);
      if (!response.ok) throw new Error(response.statusText);
      await chat.sendFile("voice", await response.blob());
    } catch (error) {
      setStatus(`The sample voice note could not be read: ${error.message}`);
    }
  });
  const record = root.querySelector(".record");
  if (!window.MediaRecorder || !MediaRecorder.isTypeSupported(VOICE_TYPE) ||
      !navigator.mediaDevices) return;
  record.hidden = false;
  let recorder = null;
  record.addEventListener("click", async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({audio: true});
      const chunks = [];
      recorder = new MediaRecorder(stream, {mimeType: VOICE_TYPE});
      recorder.addEventListener("dataavailable", (event) => chunks.push(event.data));
      recorder.addEventListener("stop", async () => {
        for (const track of stream.getTracks()) track.stop();
        recorder = null;
        record.textContent = "Record a voice note";
        await chat.sendFile("voice", new Blob(chunks, {type: "audio/ogg"}));
      });
      recorder.start();
      record.textContent = "Stop and send";
    } catch (error) {
      setStatus(`Cannot record: ${error.message}`);
    }
  });
}

const LANGUAGE_NAMES = {ar: "Arabic", fr: "French", en: "English"};
const MODE_TITLES = {"try": "sandbox", "local-api": "local Bot API"};

async function main() {
  const setup = await call("/_try/setup");
  document.querySelector(".mode-title").textContent = MODE_TITLES[setup.mode];
  document.title = `Sanad — ${MODE_TITLES[setup.mode]}`;
  document.querySelector(".for-try").hidden = setup.mode !== "try";
  document.querySelector(".for-local-api").hidden = setup.mode !== "local-api";
  const reporterRoot = document.getElementById("reporter");
  reporterRoot.querySelector("h2 small").textContent =
    `a person reporting, on a phone set to ${LANGUAGE_NAMES[setup.reporter_language]}`;
  const caseworkerRoot = document.getElementById("caseworker");
  if (!setup.can_open) {
    caseworkerRoot.querySelector("h2 small").textContent = "enrols with /enroll CODE";
  }
  const reporter = new ChatView(reporterRoot, setup.reporter, setup.max_file_bytes,
                                {onMessage: keepReceipt(reporterRoot)});
  voiceNotes(reporterRoot, reporter);
  const caseworker = new ChatView(caseworkerRoot, setup.caseworker, setup.max_file_bytes,
                                  {onOpen: setup.can_open ? caseworkerComputer(caseworkerRoot) : null});
  await Promise.all([reporter.follow(), caseworker.follow()]);
}

main().catch((error) => setStatus(`The sandbox page could not start: ${error.message}`));
