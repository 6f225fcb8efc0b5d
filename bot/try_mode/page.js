// Sanad sandbox page: renders the two simulated users' chats from the local Bot API server.
//
// Each chat is followed by long-polling /_local/chats/{id}/events; when its version moves, the
// page reads the chat's snapshot and brings the list in line with it: new messages are added,
// edited ones redrawn, deleted ones fade out (the reporter's chat is erased before your eyes).
// Text is always set with textContent, never parsed as HTML: the bot echoes what people type.
"use strict";

const EVENT_WAIT_SECONDS = 20;
const RETRY_MS = 2000;
const FADE_MS = 900;
// A receipt: seven groups of four digits, in Western, Arabic-Indic or Persian digits.
const RECEIPT = /[0-9\u0660-\u0669\u06F0-\u06F9]{4}(?:[ -][0-9\u0660-\u0669\u06F0-\u06F9]{4}){6}/;
const CASE_LINE = /^Case: (\S+)/m;

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

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function sizeText(bytes) {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

class ChatView {
  constructor(root, chatId, {onMessage = () => {}, onOpen = null} = {}) {
    this.root = root;
    this.chatId = chatId;
    this.list = root.querySelector(".messages");
    this.input = root.querySelector(".composer input");
    this.onMessage = onMessage;
    this.onOpen = onOpen;
    this.version = -1;
    this.shown = new Map(); // message_id -> {signature, node}
    root.querySelector(".composer").addEventListener("submit", (e) => this.send(e));
  }

  async follow() {
    for (;;) {
      try {
        if (this.version < 0) {
          await this.refresh();
        } else {
          const since = this.version;
          const data = await call(
            `/_local/chats/${this.chatId}/events?since=${since}&wait=${EVENT_WAIT_SECONDS}`);
          if (data.version > since) await this.refresh();
        }
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

  draw(message) {
    const node = element("li", `message ${message.from_bot ? "from-bot" : "from-user"}`);
    node.dataset.messageId = message.message_id;
    if (message.text !== null) {
      const text = element("p", "text", message.text);
      text.dir = "auto";
      node.append(text);
    }
    for (const [kind, label] of [["document", null], ["photo", "Photo"], ["voice", "Voice note"]]) {
      if (message[kind]) node.append(this.drawFile(message, message[kind], label));
    }
    if (message.caption !== null) {
      const caption = element("p", "caption", message.caption);
      caption.dir = "auto";
      node.append(caption);
    }
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
    title.dir = "auto";
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
        press.dir = "auto";
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

const LANGUAGE_NAMES = {ar: "Arabic", fr: "French", en: "English"};

async function main() {
  const setup = await call("/_try/setup");
  const reporterRoot = document.getElementById("reporter");
  reporterRoot.querySelector("h2 small").textContent =
    `a person reporting, on a phone set to ${LANGUAGE_NAMES[setup.reporter_language]}`;
  const caseworkerRoot = document.getElementById("caseworker");
  const reporter = new ChatView(reporterRoot, setup.reporter, {onMessage: keepReceipt(reporterRoot)});
  const caseworker = new ChatView(caseworkerRoot, setup.caseworker,
                                  {onOpen: caseworkerComputer(caseworkerRoot)});
  await Promise.all([reporter.follow(), caseworker.follow()]);
}

main().catch((error) => setStatus(`The sandbox page could not start: ${error.message}`));
