"""Message text as Telegram stores it: plain text plus entities.

A bot sends text with ``parse_mode`` HTML, MarkdownV2 or (legacy) Markdown, or with an explicit
``entities`` array; Telegram parses the markup, refuses malformed markup with ``can't parse
entities: ...``, trims surrounding whitespace, checks the length *after* parsing, and detects
commands and links in what is left. Entity offsets and lengths count UTF-16 code units, as the
Bot API documents; the length limits count characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from bot.local_api.errors import bad_request

Entity = dict[str, Any]

# MarkdownV2 (https://core.telegram.org/bots/api#markdownv2-style): these must be escaped
# with a backslash wherever they are not markup.
_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_LEGACY_RESERVED = frozenset("_*[`")
_ENTITY_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
}
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
}
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")
_URL = re.compile(r"(?<![\w@])https?://[^\s<>\"]+[^\s<>\".,;:!?)\]']")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _unsupported(reason: str) -> Exception:
    return bad_request(f"can't parse entities: {reason}")


@dataclass
class _Builder:
    """Accumulates plain text and the entities opened and closed along it."""

    text: list[str] = field(default_factory=list)
    offset: int = 0  # UTF-16 units so far
    entities: list[Entity] = field(default_factory=list)

    def add(self, chunk: str) -> None:
        self.text.append(chunk)
        self.offset += utf16_len(chunk)

    def close(self, kind: str, start: int, **extra: Any) -> None:
        if self.offset > start:  # Telegram drops empty entities
            self.entities.append({"type": kind, "offset": start, "length": self.offset - start})
            self.entities[-1].update(extra)


class _HtmlEntities(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.out = _Builder()
        self.stack: list[tuple[str, str, int, dict[str, Any]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = _HTML_TAGS.get(tag)
        attributes = dict(attrs)
        if kind is None or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise _unsupported(f'Unsupported start tag "{tag}" at byte offset {self._byte()}')
        extra: dict[str, Any] = {}
        if kind == "text_link":
            extra["url"] = attributes.get("href") or ""
        if kind == "custom_emoji":
            extra["custom_emoji_id"] = attributes.get("emoji-id") or ""
        if kind == "code" and self.stack and self.stack[-1][1] == "pre":
            language = (attributes.get("class") or "").removeprefix("language-")
            if language:  # <pre><code class="language-x"> is one pre entity with a language
                self.stack[-1][3]["language"] = language
        self.stack.append((tag, kind, self.out.offset, extra))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            expected = self.stack[-1][0] if self.stack else tag
            raise _unsupported(f'Unmatched end tag at byte offset {self._byte()}, '
                               f'expected "</{expected}>", found "</{tag}>"')
        _, kind, start, extra = self.stack.pop()
        if kind == "code" and self.stack and self.stack[-1][1] == "pre":
            return  # folded into the enclosing pre entity
        self.out.close(kind, start, **extra)

    def handle_data(self, data: str) -> None:
        self.out.add(data)

    def _byte(self) -> int:
        """Where the parser is, as a UTF-8 byte offset (Telegram's unit in these errors)."""
        line, column = self.getpos()
        lines = self.source.splitlines(keepends=True) or [""]
        prefix = "".join(lines[: line - 1]) + lines[line - 1][:column]
        return len(prefix.encode("utf-8"))


def _parse_html(text: str) -> tuple[str, list[Entity]]:
    parser = _HtmlEntities(text)
    parser.feed(text)
    parser.close()
    if parser.stack:
        tag = parser.stack[-1][0]
        raise _unsupported(f'Can\'t find end tag corresponding to start tag "{tag}"')
    return "".join(parser.out.text), sorted(parser.out.entities, key=_entity_order)


def _parse_markdown(text: str, *, v2: bool) -> tuple[str, list[Entity]]:
    """MarkdownV2 (``v2``) or legacy Markdown; one scanner, the reserved set differs."""
    reserved = _V2_RESERVED if v2 else _LEGACY_RESERVED
    out = _Builder()
    open_: list[tuple[str, int, int]] = []  # (kind, UTF-16 start, byte offset of the marker)
    i = 0

    def byte_at(index: int) -> int:
        return len(text[:index].encode("utf-8"))

    def toggle(kind: str, at: int) -> None:
        for position in range(len(open_) - 1, -1, -1):
            if open_[position][0] == kind:
                _, start, _ = open_.pop(position)
                out.close(kind, start)
                return
        open_.append((kind, out.offset, byte_at(at)))

    while i < len(text):
        char = text[i]
        byte = byte_at(i)
        if char == "\\" and i + 1 < len(text) and (v2 or text[i + 1] in reserved):
            if v2 and not 0 < ord(text[i + 1]) < 127:
                raise _unsupported(f"Character '\\' is reserved at byte offset {byte}")
            out.add(text[i + 1])
            i += 2
            continue
        if char == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end < 0:
                name = "Pre" if fence == "```" else "Code"
                raise _unsupported(f"Can't find end of {name} entity at byte offset {byte}")
            body = text[i + len(fence) : end]
            if v2:
                body = re.sub(r"\\([`\\])", r"\1", body)
            language = ""
            if fence == "```":
                first, newline, rest = body.partition("\n")
                if newline and first and " " not in first:
                    language, body = first, rest
            start = out.offset
            out.add(body)
            if fence == "```":
                out.close("pre", start, **({"language": language} if language else {}))
            else:
                out.close("code", start)
            i = end + len(fence)
            continue
        if char == "[":
            close = _find_unescaped(text, "]", i + 1)
            if close < 0 or not text.startswith("(", close + 1):
                raise _unsupported(f"Can't find end of TextUrl entity at byte offset {byte}")
            url_end = _find_unescaped(text, ")", close + 2)
            if url_end < 0:
                raise _unsupported(f"Can't find end of TextUrl entity at byte offset {byte}")
            label, entities = _parse_markdown(text[i + 1 : close], v2=v2)
            start = out.offset
            for entity in entities:
                out.entities.append({**entity, "offset": entity["offset"] + start})
            out.add(label)
            url = re.sub(r"\\([)\\])", r"\1", text[close + 2 : url_end])
            out.close("text_link", start, url=url)
            i = url_end + 1
            continue
        if v2 and char == ">" and (i == 0 or text[i - 1] == "\n"):
            line_end = text.find("\n", i)
            line_end = len(text) if line_end < 0 else line_end
            label, entities = _parse_markdown(text[i + 1 : line_end], v2=True)
            start = out.offset
            for entity in entities:
                out.entities.append({**entity, "offset": entity["offset"] + start})
            out.add(label)
            out.close("blockquote", start)
            i = line_end
            continue
        if char == "*":
            toggle("bold", i)
        elif char == "_" and v2 and text.startswith("__", i):
            toggle("underline", i)
            i += 1
        elif char == "_":
            toggle("italic", i)
        elif v2 and char == "~":
            toggle("strikethrough", i)
        elif v2 and char == "|" and text.startswith("||", i):
            toggle("spoiler", i)
            i += 1
        elif char in reserved:
            raise _unsupported(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            out.add(char)
        i += 1
    if open_:
        kind, _, at = open_[-1]
        raise _unsupported(f"Can't find end of {_ENTITY_NAMES[kind]} entity at byte offset {at}")
    return "".join(out.text), sorted(out.entities, key=_entity_order)


def _find_unescaped(text: str, char: str, start: int) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == char:
            return i
        i += 1
    return -1


def _entity_order(entity: Entity) -> tuple[int, int]:
    return (entity["offset"], -entity["length"])


def _strip(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Trim surrounding whitespace as Telegram does, moving and clipping entities with it."""
    stripped = text.lstrip()
    shift = utf16_len(text) - utf16_len(stripped)
    stripped = stripped.rstrip()
    limit = utf16_len(stripped)
    kept: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def detect_entities(text: str, entities: list[Entity]) -> list[Entity]:
    """Add the ``bot_command`` and ``url`` entities Telegram finds by itself in plain text."""
    covered = [(e["offset"], e["offset"] + e["length"]) for e in entities]
    found = list(entities)
    for pattern, kind in ((_COMMAND, "bot_command"), (_URL, "url")):
        for match in pattern.finditer(text):
            start = utf16_len(text[: match.start()])
            end = start + utf16_len(match.group())
            if not any(a < end and start < b for a, b in covered):
                found.append({"type": kind, "offset": start, "length": end - start})
                covered.append((start, end))
    return sorted(found, key=_entity_order)


def parse_text(
    text: str, parse_mode: str | None, entities: Any, *, limit: int, empty: str, too_long: str
) -> tuple[str, list[Entity]]:
    """Turn what a bot sent into stored text and entities, or refuse it as Telegram would.

    ``empty`` and ``too_long`` are Telegram's wording for this field (message text or caption).
    """
    if parse_mode:
        mode = parse_mode.lower()
        if mode == "html":
            plain, parsed = _parse_html(text)
        elif mode == "markdownv2":
            plain, parsed = _parse_markdown(text, v2=True)
        elif mode == "markdown":
            plain, parsed = _parse_markdown(text, v2=False)
        else:
            raise bad_request(f"unsupported parse_mode {parse_mode}")
    elif entities is not None:
        if not isinstance(entities, list) or not all(
            isinstance(e, dict) and isinstance(e.get("type"), str) for e in entities
        ):
            raise bad_request("can't parse entities JSON object")
        plain, parsed = text, list(entities)
    else:
        plain, parsed = text, []
    plain, parsed = _strip(plain, parsed)
    if not plain:
        raise bad_request(empty)
    if len(plain) > limit:
        raise bad_request(too_long)
    return plain, detect_entities(plain, parsed)
