"""The reporter's conversation: from /start to a sealed report and an empty chat.

Enter with ``/start`` in a private chat. The reporter picks one of the configured languages (the
choice is skipped when only one is configured), reads a short safety notice, answers whether they
are in immediate danger (the configured emergency contacts are shown if so), then walks through
the guided report — incident type, platform, country, approximate date, what happened, links,
evidence files, what the platform did, whether they want a reply, consent to anonymous advocacy
use — and reviews it. Every step has Back and Erase buttons; optional steps have Skip. Submit
hands the draft to a :class:`~handlers.ports.ReportSubmitter`; the case reference and receipt
are shown only after it returns, that is after the commit (I8).

Leave with "I have saved it" after the receipt, the Erase button or ``/forget`` at any step, or
by staying idle for the configured timeout: each of them wipes the draft (I1) and deletes every
message of the conversation, the reporter's and the bot's, with ``deleteMessages`` (I7). Every
message id is also journalled through a :class:`~handlers.ports.HousekeepingPort` as the
conversation goes (erased after a restart if the bot is killed outright), and ids that cannot be
deleted at the end (or when the process stops) go to it too. Sending, remembering, erasing and
taking files are :mod:`handlers.chat`'s, shared with ``/status``.

Outside a conversation, ``/help`` and text are answered, and a press on a button no flow owns
gets an alert; these messages are erased a short while later through the same port.

Buttons: every ``callback_data`` of this flow starts with a step's prefix or is Erase
(:data:`OWN_BUTTONS`); a press on one that is not live is answered as stale, and other flows'
buttons are left to them.

The diagram beside this module, ``report_flow.mmd``, shows the states; change both together.

Safety rules kept here: every sentence comes from the catalogue (handlers/i18n.py); messages are
sent as plain text (no parse mode, so reporter text cannot inject markup); nothing the reporter
sends and no identifier is logged — only event names and counts; bad input of any kind gets a
translated answer and leaves the draft as it was; slow work (file cleaning) runs in a worker
thread so one reporter never stalls another under ``concurrent_updates``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.logs import event, get_logger
from handlers import choices
from handlers.budget import FreeDisk, ReportQuota, shared_memory_budget
from handlers.chat import (
    NO_ROOM,
    Context,
    ConversationChat,
    Handler,
    acknowledge,
    answer_stale,
    chat_conversation,
    erase_message_later,
    keyboard,
    open_draft,
    take_from_user_data,
    user_language,
)
from handlers.draft import Draft
from handlers.flood import FloodLimiter, update_cost
from handlers.i18n import LANGUAGE_NAMES, LANGUAGES, N_, Refused, Translate, isolate, translator
from handlers.idle import IdleEndingConversation, watch_idle
from handlers.ports import HousekeepingPort, ReportSubmitter, SubmissionBusy, SubmissionNoRoom
from handlers.text_input import MAX_LINKS, CleanText, clean_text, extract_links

_log = get_logger("report_flow")


DRAFT_KEY = "report_draft"
# The ConversationHandler's name: the /status flow looks for it to check the install order.
CONVERSATION_NAME = "report"
# The review screen quotes the start of the statement; the whole must fit Telegram's 4096 chars.
REVIEW_QUOTE_CHARS = 1000

ERASE = "erase"
SAVED = "saved"
BACK = "back"
SKIP = "skip"
DONE = "done"


class Step(Enum):
    """States of the report conversation; each value is its ``callback_data`` prefix."""

    LANGUAGE = "lang"
    NOTICE = "notice"
    DANGER = "danger"
    INCIDENT = "incident"
    PLATFORM = "platform"
    COUNTRY = "country"
    YEAR = "year"
    MONTH = "month"
    NARRATIVE = "narrative"
    LINKS = "links"
    EVIDENCE = "evidence"
    PLATFORM_RESPONSE = "response"
    REPLY = "reply"
    ADVOCACY = "advocacy"
    REVIEW = "review"
    EDIT = "edit"
    RECEIPT = "receipt"


# The guided report, in order; Back walks it backwards, Edit jumps into it from the review.
REPORT_STEPS: tuple[Step, ...] = (
    Step.INCIDENT,
    Step.PLATFORM,
    Step.COUNTRY,
    Step.YEAR,
    Step.MONTH,
    Step.NARRATIVE,
    Step.LINKS,
    Step.EVIDENCE,
    Step.PLATFORM_RESPONSE,
    Step.REPLY,
    Step.ADVOCACY,
)

# What the review's Edit screen offers, with the label of each step.
EDITABLE: Mapping[Step, str] = {
    Step.INCIDENT: N_("Type of incident"),
    Step.PLATFORM: N_("Platform"),
    Step.COUNTRY: N_("Country"),
    Step.YEAR: N_("Date"),
    Step.NARRATIVE: N_("What happened"),
    Step.LINKS: N_("Links"),
    Step.EVIDENCE: N_("Files"),
    Step.PLATFORM_RESPONSE: N_("Reported to the platform"),
    Step.REPLY: N_("Reply wanted"),
    Step.ADVOCACY: N_("Advocacy use"),
}

YES = "yes"
NO = "no"
UNKNOWN = "unknown"

# Shown in all three languages at once, before the reporter has chosen one.
CHOOSE_LANGUAGE = N_("Choose your language.")
SOMETHING_WENT_WRONG = N_("Something went wrong. Nothing you sent was kept.")
# Shown while the report waits for and goes through sealing; the receipt replaces it.
SEALING = N_(
    "Sealing your report, one moment… When many people report at the same time this can take a "
    "little longer. You do not need to press anything."
)


@dataclass(frozen=True)
class ReportFlowSettings:
    """What the deployment configures for the flow (``[organisation]`` and ``[limits]``).

    ``bot`` builds this from its configuration; ``handlers`` does not import ``bot``.
    """

    organisation_name: str = "Sanad"
    # The languages offered, in the order shown; with one, the flow skips the choice.
    languages: tuple[str, ...] = LANGUAGES
    countries: tuple[str, ...] = ("EG", "IQ", "JO", "LB", "TN")
    emergency_contacts: tuple[tuple[str, str], ...] = ()
    max_text_chars: int = 10_000
    max_file_bytes: int = 20 * 1024 * 1024
    max_files: int = 10
    max_messages_per_minute: int = 20
    # Units a reporter may spend at once before the per-minute rate applies (handlers/flood.py).
    flood_burst: int = 60
    conversation_timeout: dt.timedelta = field(default=dt.timedelta(minutes=30))
    # Bounds across all reporters (handlers/budget.py).
    draft_memory_bytes: int = 256 * 1024 * 1024
    reports_per_day: int = 10
    free_disk: FreeDisk = field(default_factory=FreeDisk)

    def conversation_chat(self, housekeeping: HousekeepingPort) -> ConversationChat:
        """The chat helper both reporter flows use, with these limits and the bot-wide budget."""
        return ConversationChat(
            housekeeping,
            max_files=self.max_files,
            max_file_bytes=self.max_file_bytes,
            memory_budget=shared_memory_budget(self.draft_memory_bytes),
            free_disk=self.free_disk,
        )


def _data(step: Step, value: str) -> str:
    return f"{step.value}:{value}"


# What empties the chat at once, in either reporter flow: /forget, this flow's Erase and the
# status flow's (``handlers.status_flow.ERASE``, which imports this module). The flood limit's
# quiet minute never holds these up (I7).
ERASING_BUTTONS = re.compile(rf"^(?:{re.escape(ERASE)}|status:erase)\Z")
ERASING_COMMAND = re.compile(r"^/forget(?:@\w+)?(?:\s|\Z)")


def asks_to_erase(update: Update) -> bool:
    """Whether ``update`` is /forget or an Erase button of a reporter flow."""
    query = update.callback_query
    if query is not None:
        return ERASING_BUTTONS.match(query.data or "") is not None
    message = update.message
    return message is not None and ERASING_COMMAND.match(message.text or "") is not None


# Every button this flow ever sends, live or not: a step's prefix, or Erase. Other flows' buttons
# (``status:...``) do not match, so each flow answers its own, stale ones included, whatever order
# the flows are installed in.
OWN_BUTTONS = re.compile(
    rf"^(?:(?:{'|'.join(re.escape(step.value) for step in Step)}):|{re.escape(ERASE)}\Z)"
)


def _pattern(step: Step, values: Iterable[str]) -> re.Pattern[str]:
    """Exactly the buttons this step offers: anything else is stale or forged (see ``stale``)."""
    alternatives = "|".join(re.escape(v) for v in values)
    return re.compile(rf"^{re.escape(step.value)}:({alternatives})\Z")


def _nav_pattern(step: Step, values: Iterable[str]) -> re.Pattern[str]:
    """A navigation button of this step; the match's first group is the step itself."""
    alternatives = "|".join(re.escape(v) for v in values)
    return re.compile(rf"^({re.escape(step.value)}):(?:{alternatives})\Z")


def _draft(context: Context) -> Draft | None:
    data = context.user_data
    found = data.get(DRAFT_KEY) if data is not None else None
    return found if isinstance(found, Draft) else None


def _choice_value(context: Context) -> str:
    match = context.matches[0] if context.matches else None
    if match is None:
        raise LookupError("a button callback ran without its pattern match")
    return match.group(1)


class ReportFlow:
    """The callbacks of the conversation, with what they share: settings and the two ports.

    ``chat`` (sending, remembering, erasing, taking files) is public: the ``/status`` flow erases
    the same way with its own :class:`~handlers.chat.ConversationChat`.
    """

    def __init__(
        self,
        settings: ReportFlowSettings,
        submitter: ReportSubmitter,
        housekeeping: HousekeepingPort,
        *,
        clock: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.settings = settings
        self.submitter = submitter
        self.housekeeping = housekeeping
        self.chat = settings.conversation_chat(housekeeping)
        self.flood = FloodLimiter(settings.max_messages_per_minute, burst=settings.flood_burst)
        self.quota = ReportQuota(settings.reports_per_day)
        self.unowned_buttons = 0
        self._today = clock
        self._ask: Mapping[Step, Callable[[Context, Draft, Message | None], Awaitable[None]]] = {
            Step.INCIDENT: self._ask_incident,
            Step.PLATFORM: self._ask_platform,
            Step.COUNTRY: self._ask_country,
            Step.YEAR: self._ask_year,
            Step.MONTH: self._ask_month,
            Step.NARRATIVE: self._ask_narrative,
            Step.LINKS: self._ask_links,
            Step.EVIDENCE: self._ask_evidence,
            Step.PLATFORM_RESPONSE: self._ask_platform_response,
            Step.REPLY: self._ask_reply,
            Step.ADVOCACY: self._ask_advocacy,
            Step.REVIEW: self._show_review,
        }

    def _language_of(self, update: object, context: Context) -> str:
        """The draft's language, or before there is one the user's among those offered."""
        draft = _draft(context)
        if draft is not None:
            return draft.language
        return user_language(update, self.settings.languages)

    def _t(self, draft: Draft) -> Translate:
        return translator(draft.language)

    def _nav(
        self,
        draft: Draft,
        step: Step,
        *,
        skip: bool = False,
        done: bool = False,
        back: bool = True,
    ) -> list[tuple[str, str]]:
        """The navigation row: Done or Skip where they apply, Back unless ``back`` is off, Erase."""
        _ = self._t(draft)
        row: list[tuple[str, str]] = []
        if done:
            row.append((_("Done"), _data(step, DONE)))
        elif skip:
            row.append((_("Skip"), _data(step, SKIP)))
        if back:
            row.append((_("Back"), _data(step, BACK)))
        row.append((_("Erase everything"), ERASE))
        return row

    def _options(
        self, draft: Draft, step: Step, labels: Mapping[str, str], *, skip: bool = False
    ) -> InlineKeyboardMarkup:
        _ = self._t(draft)
        rows = [[(_(label), _data(step, code))] for code, label in labels.items()]
        return keyboard([*rows, self._nav(draft, step, skip=skip)])

    # -- entry, language, notice, danger -----------------------------------------------------

    async def start(self, update: Update, context: Context) -> Step:
        """Opens a fresh draft and asks for the language."""
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None or context.user_data is None:
            raise LookupError("/start without a chat")
        old = _draft(context)
        if old is not None:
            old.wipe()
        draft = Draft(chat_id=chat.id)
        context.user_data[DRAFT_KEY] = draft
        await self.chat.remember(context, draft, message.message_id)
        event(_log, "report_started")
        return await self._ask_language(context, draft, None)

    async def _ask_language(self, context: Context, draft: Draft, pressed: Message | None) -> Step:
        """Asks for one of the configured languages; with only one, takes it and moves on."""
        offered = self.settings.languages
        if len(offered) == 1:
            draft.language = offered[0]
            return await self._show_notice(context, draft, pressed)
        # Before a language is chosen the question is asked in all of them at once.
        prompt = "\n".join(translator(lang)(CHOOSE_LANGUAGE) for lang in offered)
        buttons = [[(LANGUAGE_NAMES[lang], _data(Step.LANGUAGE, lang))] for lang in offered]
        await self.chat.say(context, draft, prompt, keyboard(buttons), replacing=pressed)
        return Step.LANGUAGE

    async def choose_language(self, update: Update, context: Context) -> Step:
        """Stores the language and shows the safety notice."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        draft.language = _choice_value(context)
        return await self._show_notice(context, draft, pressed)

    async def _show_notice(self, context: Context, draft: Draft, pressed: Message | None) -> Step:
        _ = self._t(draft)
        text = _(
            "Before you start, please read this.\n\n"
            "• Your report goes to {organisation}, encrypted so that only its caseworkers can "
            "read it. Your name, username, phone number and Telegram account are not kept "
            "with it.\n"
            "• Telegram can see this conversation, as it sees every chat with a bot. If you "
            "can, use a Telegram account that is not tied to your real name or phone number.\n"
            "• When you finish, this whole conversation is deleted from this chat. You will get "
            "a receipt: it is the only way to check your report and read replies.\n"
            "• Nothing is saved until you press Submit at the end. Send /forget or press "
            "“Erase everything” at any moment to delete everything you wrote here."
        ).format(organisation=isolate(self.settings.organisation_name))
        markup = keyboard(
            [
                [(_("I understand, continue"), _data(Step.NOTICE, YES))],
                # The notice comes first when there is no language to choose.
                self._nav(draft, Step.NOTICE, back=len(self.settings.languages) > 1),
            ]
        )
        await self.chat.say(context, draft, text, markup, replacing=pressed)
        return Step.NOTICE

    async def accept_notice(self, update: Update, context: Context) -> Step:
        """Takes the consent and asks whether the reporter is in immediate danger."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        return await self._ask_danger(context, draft, pressed)

    async def _ask_danger(self, context: Context, draft: Draft, pressed: Message | None) -> Step:
        _ = self._t(draft)
        markup = keyboard(
            [
                [(_("Yes, I am in danger now"), _data(Step.DANGER, YES))],
                [(_("No"), _data(Step.DANGER, NO))],
                self._nav(draft, Step.DANGER),
            ]
        )
        await self.chat.say(
            context, draft, _("Are you in immediate danger right now?"), markup, replacing=pressed
        )
        return Step.DANGER

    async def answer_danger(self, update: Update, context: Context) -> Step:
        """Shows the emergency contacts if in danger, then asks for the incident type."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        draft.in_danger = _choice_value(context) == YES
        if draft.in_danger:
            _ = self._t(draft)
            contacts = self.settings.emergency_contacts
            if contacts:
                lines = "\n".join(f"• {isolate(label)}: {isolate(v)}" for label, v in contacts)
                text = _(
                    "If you are in immediate danger, contact one of these now:\n{contacts}\n\n"
                    "When you are safe, you can continue your report below."
                ).format(contacts=lines)
            else:
                text = _(
                    "If you can, reach someone you trust who can help you now. When you are "
                    "safe, you can continue your report below."
                )
            # The contacts stay on screen; the next question goes below them.
            await self.chat.say(context, draft, text, replacing=pressed)
            pressed = None
        return await self._go(context, draft, Step.INCIDENT, pressed)

    # -- the guided report -------------------------------------------------------------------

    def _after(self, step: Step, draft: Draft) -> Step:
        """The step that follows ``step``: the review when editing, skipping an unasked month."""
        if step is Step.YEAR and draft.year is not None and draft.year.isdigit():
            return Step.MONTH
        if draft.editing or step is Step.ADVOCACY:
            return Step.REVIEW
        following = REPORT_STEPS[REPORT_STEPS.index(step) + 1]
        return self._after(following, draft) if following is Step.MONTH else following

    def _before(self, step: Step, draft: Draft) -> Step:
        """The step Back leads to: the review when editing, the danger question at the start."""
        if step is Step.MONTH:
            return Step.YEAR
        if draft.editing:
            return Step.REVIEW
        index = REPORT_STEPS.index(step)
        if index == 0:
            return Step.DANGER
        previous = REPORT_STEPS[index - 1]
        if previous is Step.MONTH and not (draft.year or "").isdigit():
            return Step.YEAR
        return previous

    async def _go(
        self, context: Context, draft: Draft, step: Step, pressed: Message | None
    ) -> Step:
        """Ask the question of ``step`` in place of ``pressed`` (or below) and make it the state."""
        if step is Step.REVIEW:
            draft.editing = False
        await self._ask[step](context, draft, pressed)
        return step

    async def back(self, update: Update, context: Context) -> Step:
        """Goes back one step (or to the review when editing)."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        step = Step(_choice_value(context))
        if step is Step.NOTICE:
            return await self._ask_language(context, draft, pressed)
        if step is Step.DANGER:
            return await self._show_notice(context, draft, pressed)
        if step is Step.EDIT:
            return await self._go(context, draft, Step.REVIEW, pressed)
        return await self._go(context, draft, self._before(step, draft), pressed)

    async def skip(self, update: Update, context: Context) -> Step:
        """Leaves an optional step as it is and moves on."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        return await self._go(
            context, draft, self._after(Step(_choice_value(context)), draft), pressed
        )

    async def _ask_incident(self, context: Context, draft: Draft, pressed: Message | None) -> None:
        _ = self._t(draft)
        markup = self._options(draft, Step.INCIDENT, choices.INCIDENT_TYPES)
        await self.chat.say(
            context,
            draft,
            _("What happened to you? Choose the closest."),
            markup,
            replacing=pressed,
        )

    async def answer_incident(self, update: Update, context: Context) -> Step:
        """Stores the incident type and asks for the platform."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        draft.incident_type = _choice_value(context)
        return await self._go(context, draft, self._after(Step.INCIDENT, draft), pressed)

    async def _ask_platform(self, context: Context, draft: Draft, pressed: Message | None) -> None:
        _ = self._t(draft)
        markup = self._options(draft, Step.PLATFORM, choices.PLATFORMS)
        await self.chat.say(context, draft, _("Where did it happen?"), markup, replacing=pressed)

    async def answer_platform(self, update: Update, context: Context) -> Step:
        """Stores the platform and asks for the country."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        draft.platform = _choice_value(context)
        return await self._go(context, draft, self._after(Step.PLATFORM, draft), pressed)

    def _countries(self, draft: Draft) -> dict[str, str]:
        _ = self._t(draft)
        names = {
            code: choices.country_name(code, draft.language) for code in self.settings.countries
        }
        names[choices.OTHER_COUNTRY] = _("Another country")
        return names

    async def _ask_country(self, context: Context, draft: Draft, pressed: Message | None) -> None:
        _ = self._t(draft)
        names = self._countries(draft)
        rows = [[(name, _data(Step.COUNTRY, code))] for code, name in names.items()]
        markup = keyboard([*rows, self._nav(draft, Step.COUNTRY)])
        await self.chat.say(
            context, draft, _("In which country are you?"), markup, replacing=pressed
        )

    async def answer_country(self, update: Update, context: Context) -> Step:
        """Stores the country and asks for the year."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        draft.country = _choice_value(context)
        return await self._go(context, draft, self._after(Step.COUNTRY, draft), pressed)

    def _years(self) -> list[str]:
        this_year = self._today().year
        return [str(this_year - offset) for offset in range(choices.YEARS_OFFERED)]

    async def _ask_year(self, context: Context, draft: Draft, pressed: Message | None) -> None:
        _ = self._t(draft)
        years = self._years()
        rows = [
            [(year, _data(Step.YEAR, year)) for year in years[:3]],
            [(year, _data(Step.YEAR, year)) for year in years[3:]],
            [(_("Earlier"), _data(Step.YEAR, choices.EARLIER))],
            [(_("I don't know"), _data(Step.YEAR, UNKNOWN))],
        ]
        markup = keyboard([*rows, self._nav(draft, Step.YEAR)])
        await self.chat.say(
            context,
            draft,
            _("When did it happen, roughly? Choose the year."),
            markup,
            replacing=pressed,
        )

    async def answer_year(self, update: Update, context: Context) -> Step | None:
        """Stores the year and asks for the month (or moves on if the year is not known)."""
        draft = self._require(context)
        value = _choice_value(context)
        if value.isdigit() and value not in self._years():
            await self.stale(update, context)  # a year button from an earlier year, or forged
            return None
        pressed = await acknowledge(update.callback_query)
        draft.year = None if value == UNKNOWN else value
        draft.month = None
        return await self._go(context, draft, self._after(Step.YEAR, draft), pressed)

    async def _ask_month(self, context: Context, draft: Draft, pressed: Message | None) -> None:
        _ = self._t(draft)
        months = [
            (choices.month_name(month, draft.language), _data(Step.MONTH, str(month)))
            for month in range(1, 13)
        ]
        rows = [months[i : i + 3] for i in range(0, 12, 3)]
        markup = keyboard(
            [
                *rows,
                [(_("I don't know the month"), _data(Step.MONTH, UNKNOWN))],
                self._nav(draft, Step.MONTH),
            ]
        )
        await self.chat.say(context, draft, _("And the month?"), markup, replacing=pressed)

    async def answer_month(self, update: Update, context: Context) -> Step:
        """Stores the month and asks what happened."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        value = _choice_value(context)
        draft.month = None if value == UNKNOWN else int(value)
        return await self._go(context, draft, self._after(Step.MONTH, draft), pressed)

    async def _ask_narrative(self, context: Context, draft: Draft, pressed: Message | None) -> None:
        _ = self._t(draft)
        text = _(
            "In your own words, what happened? Write it in one message. If you can, leave out "
            "your own name and other people's names: describe them instead."
        )
        await self.chat.say(
            context, draft, text, keyboard([self._nav(draft, Step.NARRATIVE)]), replacing=pressed
        )

    async def answer_narrative(self, update: Update, context: Context) -> Step | None:
        """Stores what happened, once cleaned, and asks for links."""
        draft = self._require(context)
        cleaned = await self._clean_text_or_answer(update, context, draft)
        if cleaned is None:
            return None
        draft.what_happened = cleaned.text
        # A new message: the next question must come below what the reporter wrote.
        return await self._go(context, draft, self._after(Step.NARRATIVE, draft), None)

    async def _clean_text_or_answer(
        self, update: Update, context: Context, draft: Draft
    ) -> CleanText | None:
        """The cleaned text of the message, or None after telling the reporter why not."""
        message = update.effective_message
        raw = message.text if message is not None else None
        result = clean_text(raw or "", max_chars=self.settings.max_text_chars)
        _ = self._t(draft)
        if isinstance(result, Refused):
            await self.chat.say(context, draft, result.notice.render(_))
            return None
        if result.notice is not None:
            await self.chat.say(context, draft, result.notice.render(_))
        return result

    async def _ask_links(self, context: Context, draft: Draft, pressed: Message | None) -> None:
        _ = self._t(draft)
        text = _(
            "Do you have links to the posts, profiles or messages involved? Send them now, one "
            "or several per message. Press Done when you have finished, or Skip."
        )
        if draft.links:
            text += "\n\n" + _("Links saved so far: {count}.").format(count=len(draft.links))
        markup = keyboard([self._nav(draft, Step.LINKS, done=bool(draft.links), skip=True)])
        await self.chat.say(context, draft, text, markup, replacing=pressed)

    async def add_links(self, update: Update, context: Context) -> None:
        """Adds the valid links of a message and stays on the links step."""
        draft = self._require(context)
        cleaned = await self._clean_text_or_answer(update, context, draft)
        if cleaned is None:
            return
        _ = self._t(draft)
        links = extract_links(cleaned.text)
        room = MAX_LINKS - len(draft.links)
        new = [link for link in links.valid if link not in draft.links]
        draft.links.extend(new[:room])
        lines = []
        if links.refused:
            lines.append(
                _(
                    "Part of your message is not a web link (starting with http:// or https://) "
                    "and was not kept."
                )
            )
        if len(new) > room:
            lines.append(
                _("You have reached the maximum number of links: {limit}.").format(limit=MAX_LINKS)
            )
        lines.append(_("Links saved so far: {count}.").format(count=len(draft.links)))
        lines.append(_("Send more, or press Done."))
        markup = keyboard([self._nav(draft, Step.LINKS, done=True)])
        await self.chat.say(context, draft, "\n".join(lines), markup)

    async def _ask_evidence(self, context: Context, draft: Draft, pressed: Message | None) -> None:
        _ = self._t(draft)
        text = _(
            "You can now send evidence: photos, screenshots, PDF documents or voice notes, one "
            "or several. Hidden details such as the location in a photo or the author of a "
            "document are removed before anything is saved. Press Done when you have "
            "finished, or Skip."
        )
        if draft.attachments:
            text += "\n\n" + _("Files added so far: {count}.").format(count=len(draft.attachments))
        markup = keyboard(
            [self._nav(draft, Step.EVIDENCE, done=bool(draft.attachments), skip=True)]
        )
        await self.chat.say(context, draft, text, markup, replacing=pressed)

    async def add_evidence(self, update: Update, context: Context) -> None:
        """Downloads, checks and cleans one file off the event loop, then stays on the step."""
        draft = self._require(context)
        message = update.effective_message
        if message is None:
            return
        result = await self.chat.take_evidence(
            context,
            draft,
            message,
            # Erased or restarted while the file was processed: nothing is added or said.
            still_open=lambda: _draft(context) is draft,
        )
        if result is None:
            return
        _ = self._t(draft)
        if isinstance(result, Refused):
            await self.chat.say(context, draft, result.notice.render(_))
            return
        lines = [
            _("File added. Files added so far: {count}.").format(count=len(draft.attachments)),
            _("Send more, or press Done."),
        ]
        markup = keyboard([self._nav(draft, Step.EVIDENCE, done=True)])
        await self.chat.say(context, draft, "\n".join(lines), markup)

    async def _ask_platform_response(
        self, context: Context, draft: Draft, pressed: Message | None
    ) -> None:
        _ = self._t(draft)
        markup = self._options(draft, Step.PLATFORM_RESPONSE, choices.PLATFORM_RESPONSES, skip=True)
        await self.chat.say(
            context,
            draft,
            _("Did you report it to the platform? What did it do?"),
            markup,
            replacing=pressed,
        )

    async def answer_platform_response(self, update: Update, context: Context) -> Step:
        """Stores what the platform did and asks whether a reply is wanted."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        draft.platform_response = _choice_value(context)
        return await self._go(context, draft, self._after(Step.PLATFORM_RESPONSE, draft), pressed)

    async def _ask_reply(self, context: Context, draft: Draft, pressed: Message | None) -> None:
        _ = self._t(draft)
        text = _(
            "Would you like a caseworker to reply to you? You would read the reply with your "
            "receipt, using /status."
        )
        markup = keyboard(
            [
                [(_("Yes, I would like a reply"), _data(Step.REPLY, YES))],
                [(_("No reply needed"), _data(Step.REPLY, NO))],
                self._nav(draft, Step.REPLY),
            ]
        )
        await self.chat.say(context, draft, text, markup, replacing=pressed)

    async def answer_reply(self, update: Update, context: Context) -> Step:
        """Stores whether a reply is wanted and asks for consent to advocacy use."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        draft.wants_reply = _choice_value(context) == YES
        return await self._go(context, draft, self._after(Step.REPLY, draft), pressed)

    async def _ask_advocacy(self, context: Context, draft: Draft, pressed: Message | None) -> None:
        _ = self._t(draft)
        text = _(
            "May {organisation} use what happened to you in its advocacy and public reports, "
            "without anything that could identify you?"
        ).format(organisation=isolate(self.settings.organisation_name))
        markup = keyboard(
            [
                [(_("Yes, without anything that identifies me"), _data(Step.ADVOCACY, YES))],
                [(_("No"), _data(Step.ADVOCACY, NO))],
                self._nav(draft, Step.ADVOCACY),
            ]
        )
        await self.chat.say(context, draft, text, markup, replacing=pressed)

    async def answer_advocacy(self, update: Update, context: Context) -> Step:
        """Stores the advocacy consent and shows the review."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        draft.advocacy_consent = _choice_value(context) == YES
        return await self._go(context, draft, Step.REVIEW, pressed)

    # -- review, edit, submit ----------------------------------------------------------------

    def _review_text(self, draft: Draft) -> str:
        _ = self._t(draft)
        not_given = _("(not given)")

        def label(table: Mapping[str, str], code: str | None) -> str:
            message = table.get(code or "")
            return _(message) if message is not None else not_given

        def yes_no(value: bool | None) -> str:
            return not_given if value is None else (_("Yes") if value else _("No"))

        if draft.year is None:
            when = _("I don't know")
        elif draft.year == choices.EARLIER:
            when = _("Earlier")
        elif draft.month is None:
            when = draft.year
        else:
            when = f"{choices.month_name(draft.month, draft.language)} {draft.year}"
        statement = draft.what_happened or ""
        if len(statement) > REVIEW_QUOTE_CHARS:
            statement = statement[:REVIEW_QUOTE_CHARS] + "…"
        country = self._countries(draft).get(draft.country or "", not_given)
        lines = [
            _("Please check your report before you submit it."),
            "",
            _("Type of incident: {value}").format(
                value=label(choices.INCIDENT_TYPES, draft.incident_type)
            ),
            _("Platform: {value}").format(value=label(choices.PLATFORMS, draft.platform)),
            _("Country: {value}").format(value=isolate(country)),
            _("Date: {value}").format(value=isolate(when)),
            _("What happened: {value}").format(
                value=isolate(statement) if statement else not_given
            ),
            _("Links: {count}").format(count=len(draft.links)),
            _("Files: {count}").format(count=len(draft.attachments)),
            _("Reported to the platform: {value}").format(
                value=label(choices.PLATFORM_RESPONSES, draft.platform_response)
            ),
            _("Reply wanted: {value}").format(value=yes_no(draft.wants_reply)),
            _("Advocacy use: {value}").format(value=yes_no(draft.advocacy_consent)),
        ]
        return "\n".join(lines)

    async def _show_review(self, context: Context, draft: Draft, pressed: Message | None) -> None:
        _ = self._t(draft)
        markup = keyboard(
            [
                [(_("Submit"), _data(Step.REVIEW, "submit"))],
                [(_("Edit an answer"), _data(Step.REVIEW, "edit"))],
                [(_("Erase everything"), ERASE)],
            ]
        )
        await self.chat.say(context, draft, self._review_text(draft), markup, replacing=pressed)

    async def choose_edit(self, update: Update, context: Context) -> Step:
        """Shows which answer to change."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        _ = self._t(draft)
        rows = [[(_(label), _data(Step.EDIT, step.value))] for step, label in EDITABLE.items()]
        markup = keyboard([*rows, self._nav(draft, Step.EDIT)])
        question = _("Which answer do you want to change?")
        await self.chat.say(context, draft, question, markup, replacing=pressed)
        return Step.EDIT

    async def edit_step(self, update: Update, context: Context) -> Step:
        """Asks the chosen step again; answering it returns to the review."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        draft.editing = True
        return await self._go(context, draft, Step(_choice_value(context)), pressed)

    async def submit(self, update: Update, context: Context) -> Step:
        """Hands the draft to the service; shows the receipt only once it is committed (I8)."""
        draft = self._require(context)
        pressed = await acknowledge(update.callback_query)
        _ = self._t(draft)
        user = update.effective_user
        if user is not None and not self.quota.allows(user.id):
            event(_log, "report_quota_reached")
            text = _(
                "You have already sent {limit} reports today, the most one person can send in a "
                "day. Please submit this one tomorrow, or erase it."
            ).format(limit=self.quota.per_day)
            return await self._not_submitted(context, draft, text, pressed)
        # Replacing the review takes Submit off the screen while the report is sealed. When many
        # reporters press Submit at once they wait in the sealing line (crypto/kdf_pool.py)
        # behind this message, which the receipt then replaces; it is erased with the rest (I7).
        sealing = await self.chat.say(context, draft, _(SEALING), replacing=pressed)
        try:
            submission = await self.submitter.submit(draft)
        except SubmissionBusy:
            event(_log, "report_submit_busy", logging.WARNING)
            text = _(
                "Many reports are being saved right now. Please press Submit again in a minute."
            )
            return await self._not_submitted(context, draft, text, sealing)
        except SubmissionNoRoom:
            event(_log, "report_submit_no_room", logging.WARNING)
            return await self._not_submitted(context, draft, _(NO_ROOM), sealing)
        except Exception as exc:  # the draft must survive whatever the service raised (I8)
            event(_log, f"report_submit_failed.{type(exc).__name__}", logging.WARNING)
            text = _(
                "Your report could not be saved. Your answers are still here: please press "
                "Submit again in a moment."
            )
            return await self._not_submitted(context, draft, text, sealing)
        if user is not None:
            self.quota.record(user.id)
        event(_log, "report_submitted", links=len(draft.links), attachments=len(draft.attachments))
        draft.clear_answers()  # I1: committed and sealed; the plaintext goes now
        minutes = int(self.settings.conversation_timeout.total_seconds() // 60)
        text = _(
            "Your report has been saved.\n\n"
            "Case reference: {case}\n"
            "Your receipt: {receipt}\n\n"
            "Write the receipt down on paper, or keep it somewhere only you can reach. Do not "
            "keep it in this chat or in a screenshot on a phone that may be searched. With it, "
            "you can check your report and read replies using /status; without it, nobody can "
            "link this report to you, not even us.\n\n"
            "When you have saved it, press the button below and this whole conversation will "
            "be deleted from this chat. It will be deleted in {minutes} minutes in any case."
        ).format(
            case=isolate(submission.case_reference),
            receipt=isolate(submission.receipt.to_display()),
            minutes=minutes,
        )
        markup = keyboard([[(_("I have saved it"), _data(Step.RECEIPT, SAVED))]])
        await self.chat.say(context, draft, text, markup, replacing=sealing)
        return Step.RECEIPT

    async def _not_submitted(
        self, context: Context, draft: Draft, text: str, replacing: Message | None
    ) -> Step:
        """Says why nothing was submitted, in place of ``replacing``, then shows the review again
        below it: the draft is kept (I8)."""
        await self.chat.say(context, draft, text, replacing=replacing)
        await self._show_review(context, draft, None)
        return Step.REVIEW

    # -- leaving: saved, erase, forget, timeout ----------------------------------------------

    async def _end(self, update: object, context: Context, reason: str) -> int:
        """Wipe the draft and erase every message of the conversation."""
        draft = take_from_user_data(update, context, DRAFT_KEY)
        erased = await self.chat.close(update, context, draft if isinstance(draft, Draft) else None)
        event(_log, f"report_ended.{reason}", messages=erased)
        return ConversationHandler.END

    async def saved(self, update: Update, context: Context) -> int:
        """Erases the conversation once the reporter has saved the receipt."""
        draft = self._require(context)
        _ = self._t(draft)
        if update.callback_query is not None:
            await update.callback_query.answer(_("This conversation has been deleted."))
        return await self._end(update, context, "submitted")

    async def erase(self, update: Update, context: Context) -> int:
        """Wipes the draft and erases the conversation (Erase button)."""
        _ = translator(self._language_of(update, context))
        if update.callback_query is not None:
            await update.callback_query.answer(_("Everything you wrote here has been deleted."))
        return await self._end(update, context, "erased")

    async def forget(self, update: Update, context: Context) -> int:
        """Wipes the draft and erases the conversation (/forget), at any point."""
        return await self._end(update, context, "forgotten")

    async def timed_out(self, update: object, context: Context) -> int:
        """Wipes the draft and erases the conversation after the idle timeout."""
        return await self._end(update, context, "timeout")

    # -- help and bad input ------------------------------------------------------------------

    async def help(self, update: Update, context: Context) -> None:
        """Shows what the bot does and which commands exist; the state does not change."""
        _ = translator(self._language_of(update, context))
        text = _(
            "This bot lets you report online targeting to {organisation}, safely.\n\n"
            "/start — begin a report\n"
            "/status — check a report and read replies, with your receipt\n"
            "/forget — delete this conversation and anything you have written\n"
            "/help — this message\n\n"
            "Telegram can see this chat. The bot deletes it when you finish."
        ).format(organisation=isolate(self.settings.organisation_name))
        await self._reply(update, context, text)

    async def help_outside(self, update: Update, context: Context) -> int:
        """Shows the help without starting a report."""
        await self.help(update, context)
        return ConversationHandler.END

    async def _reply(self, update: Update, context: Context, text: str) -> None:
        """Answer in the chat: erased with the report or /status that is open, or on its own a
        short while later together with the message it answers (I7)."""
        draft = open_draft(context)
        if draft is not None:
            await self.chat.say(context, draft, text)
        else:
            await self.chat.answer_outside(update, context, text)

    async def outside_text(self, update: Update, context: Context) -> None:
        """Answers a message sent outside any conversation (text, or anything no other handler
        took: a photo, a file, a voice note, an unknown command) with what to send; both are
        erased (I7)."""
        _ = translator(self._language_of(update, context))
        await self._reply(
            update, context, _("To report something, send /start. To check a report, send /status.")
        )

    async def unowned_button(self, update: Update, context: Context) -> None:
        """Answers a press on a button no flow owns (forged, or from an old version), as an
        alert, so the spinner stops; counted, never with what it carried."""
        self.unowned_buttons += 1
        event(_log, "button_unowned", count=self.unowned_buttons)
        query = update.callback_query
        if query is None:
            return
        _ = translator(self._language_of(update, context))
        try:
            await query.answer(_("This button does nothing here. Send /help."), show_alert=True)
        except TelegramError:
            event(_log, "unowned_answer_failed", logging.DEBUG)

    async def already_started(self, update: Update, context: Context) -> None:
        """Says a report is already open; the state does not change."""
        _ = translator(self._language_of(update, context))
        text = _(
            "You already have a report in progress: continue with the latest question above, "
            "or send /forget to erase it and start again."
        )
        await self._reply(update, context, text)

    async def command_mid_step(self, update: Update, context: Context) -> None:
        """Refuses another command in the middle of a report; the state does not change."""
        _ = translator(self._language_of(update, context))
        text = _(
            "That command is not available while you are writing a report. Finish the report "
            "or erase it first; /help and /forget work at any time."
        )
        await self._reply(update, context, text)

    async def expected_button(self, update: Update, context: Context) -> None:
        """Asks for a button press instead of a message; the state does not change."""
        _ = translator(self._language_of(update, context))
        await self._reply(update, context, _("Please choose one of the buttons above."))

    async def expected_text(self, update: Update, context: Context) -> None:
        """Asks for a text message instead of a file or sticker; the state does not change."""
        _ = translator(self._language_of(update, context))
        text = _("Please answer with a text message. You can send files at the evidence step.")
        await self._reply(update, context, text)

    async def expected_file(self, update: Update, context: Context) -> None:
        """Asks for a supported file; the state does not change."""
        _ = translator(self._language_of(update, context))
        text = _(
            "Please send photos, screenshots, PDF documents or voice notes here, or press Done."
        )
        await self._reply(update, context, text)

    async def stale(self, update: Update, context: Context) -> None:
        """Refuses a stale or forged button; the state does not change."""
        await answer_stale(update, self._language_of(update, context))

    async def stale_outside(self, update: Update, context: Context) -> int:
        """Refuses a button of a conversation that has ended."""
        await self.stale(update, context)
        return ConversationHandler.END

    def _require(self, context: Context) -> Draft:
        draft = _draft(context)
        if draft is None:
            raise LookupError("the conversation has no draft")
        return draft

    # -- guards shared by every update -------------------------------------------------------

    async def guard(self, update: object, context: Context) -> None:
        """Runs before every handler: remembers the message for erasure, then limits floods."""
        if not isinstance(update, Update):
            return
        # I7: whichever conversation is open (a report or /status) erases this message with it.
        draft = open_draft(context)
        if draft is not None:
            await self.chat.remember_incoming(update, context, draft)
        user = update.effective_user
        if user is None:
            return
        verdict = self.flood.check(user.id, update_cost(update), erasing=asks_to_erase(update))
        if verdict.allowed:
            return
        event(_log, "flood_refused")
        if draft is None:  # I7: refused outside a conversation, erased like answers there
            erase_message_later(self.housekeeping, update)
        if verdict.first_refusal:
            _ = translator(self._language_of(update, context))
            text = _(
                "You are sending messages too fast. Please wait a minute; nothing you have "
                "written so far is lost."
            )
            if update.callback_query is not None:
                await update.callback_query.answer(text, show_alert=True)
            else:
                await self._reply(update, context, text)
        raise ApplicationHandlerStop

    async def on_error(self, update: object, context: Context) -> None:
        """Turns anything unexpected into one translated sentence; never a traceback or content."""
        # Only the type: an exception's message or traceback may quote what the reporter sent.
        event(_log, f"handler_error.{type(context.error).__name__}", logging.ERROR)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        try:
            _ = translator(self._language_of(update, context))
            await self._reply(update, context, _(SOMETHING_WENT_WRONG))
        except Exception as exc:  # the error handler itself must never raise
            event(_log, f"error_reply_failed.{type(exc).__name__}", logging.ERROR)

    # -- wiring ------------------------------------------------------------------------------

    async def hand_over(self, application: Application[Any, Context, Any, Any, Any, Any]) -> int:
        """Give every open conversation's message ids to housekeeping and wipe the drafts.

        For a stopping process: the drafts die with it (I1) but their chats must still be
        erased (I7). Returns how many conversations were handed over.
        """
        handed = await self.chat.hand_over(
            application, DRAFT_KEY, lambda state: state if isinstance(state, Draft) else None
        )
        event(_log, "report_handover", conversations=handed)
        return handed

    def conversation(self) -> IdleEndingConversation:
        """The ConversationHandler of the report flow (see the module docstring)."""
        message = filters.UpdateType.MESSAGE
        text = message & filters.TEXT & ~filters.COMMAND
        files = message & (filters.PHOTO | filters.Document.ALL | filters.VOICE | filters.AUDIO)
        other = message & ~filters.COMMAND

        def buttons(step: Step, values: Iterable[str], callback: Any) -> Handler:
            return CallbackQueryHandler(callback, pattern=_pattern(step, values))

        def back(step: Step) -> Handler:
            return CallbackQueryHandler(self.back, pattern=_nav_pattern(step, [BACK]))

        def skip(step: Step) -> Handler:
            return CallbackQueryHandler(self.skip, pattern=_nav_pattern(step, [SKIP, DONE]))

        yes_no = (YES, NO)
        editable = [step.value for step in EDITABLE]
        states: dict[object, list[Handler]] = {
            Step.LANGUAGE: [buttons(Step.LANGUAGE, self.settings.languages, self.choose_language)],
            Step.NOTICE: [buttons(Step.NOTICE, [YES], self.accept_notice), back(Step.NOTICE)],
            Step.DANGER: [buttons(Step.DANGER, yes_no, self.answer_danger), back(Step.DANGER)],
            Step.INCIDENT: [
                buttons(Step.INCIDENT, choices.INCIDENT_TYPES, self.answer_incident),
                back(Step.INCIDENT),
            ],
            Step.PLATFORM: [
                buttons(Step.PLATFORM, choices.PLATFORMS, self.answer_platform),
                back(Step.PLATFORM),
            ],
            Step.COUNTRY: [
                buttons(
                    Step.COUNTRY,
                    [*self.settings.countries, choices.OTHER_COUNTRY],
                    self.answer_country,
                ),
                back(Step.COUNTRY),
            ],
            Step.YEAR: [
                CallbackQueryHandler(
                    self.answer_year,
                    pattern=re.compile(
                        rf"^{Step.YEAR.value}:([0-9]{{4}}|{choices.EARLIER}|{UNKNOWN})\Z"
                    ),
                ),
                back(Step.YEAR),
            ],
            Step.MONTH: [
                buttons(Step.MONTH, [*(str(m) for m in range(1, 13)), UNKNOWN], self.answer_month),
                back(Step.MONTH),
            ],
            Step.NARRATIVE: [
                MessageHandler(text, self.answer_narrative),
                back(Step.NARRATIVE),
                MessageHandler(other, self.expected_text),
            ],
            Step.LINKS: [
                MessageHandler(text, self.add_links),
                skip(Step.LINKS),
                back(Step.LINKS),
                MessageHandler(other, self.expected_text),
            ],
            Step.EVIDENCE: [
                MessageHandler(files, self.add_evidence),
                skip(Step.EVIDENCE),
                back(Step.EVIDENCE),
                MessageHandler(other, self.expected_file),
            ],
            Step.PLATFORM_RESPONSE: [
                buttons(
                    Step.PLATFORM_RESPONSE,
                    choices.PLATFORM_RESPONSES,
                    self.answer_platform_response,
                ),
                skip(Step.PLATFORM_RESPONSE),
                back(Step.PLATFORM_RESPONSE),
            ],
            Step.REPLY: [buttons(Step.REPLY, yes_no, self.answer_reply), back(Step.REPLY)],
            Step.ADVOCACY: [
                buttons(Step.ADVOCACY, yes_no, self.answer_advocacy),
                back(Step.ADVOCACY),
            ],
            Step.REVIEW: [
                buttons(Step.REVIEW, ["submit"], self.submit),
                buttons(Step.REVIEW, ["edit"], self.choose_edit),
            ],
            Step.EDIT: [buttons(Step.EDIT, editable, self.edit_step), back(Step.EDIT)],
            Step.RECEIPT: [buttons(Step.RECEIPT, [SAVED], self.saved)],
        }
        private = filters.ChatType.PRIVATE
        return chat_conversation(
            name=CONVERSATION_NAME,
            entry_points=[
                CommandHandler("start", self.start, filters=private),
                CallbackQueryHandler(self.stale_outside, pattern=OWN_BUTTONS),
                CommandHandler("help", self.help_outside, filters=private),
                CommandHandler("forget", self.forget, filters=private),
            ],
            states=states,
            fallbacks=[
                CommandHandler("forget", self.forget),
                CommandHandler("help", self.help),
                CommandHandler("start", self.already_started),
                MessageHandler(message & filters.COMMAND, self.command_mid_step),
                CallbackQueryHandler(self.erase, pattern=f"^{ERASE}$"),
                CallbackQueryHandler(self.stale, pattern=OWN_BUTTONS),
                MessageHandler(other, self.expected_button),
            ],
            timeout=self.settings.conversation_timeout,
            on_idle=self.timed_out,
        )


def build_report_handler(
    settings: ReportFlowSettings, submitter: ReportSubmitter, housekeeping: HousekeepingPort
) -> IdleEndingConversation:
    """The report ConversationHandler alone (use :func:`install_report_flow` to get the guards)."""
    return ReportFlow(settings, submitter, housekeeping).conversation()


def install_report_flow(
    application: Application[Any, Context, Any, Any, Any, Any],
    settings: ReportFlowSettings,
    submitter: ReportSubmitter,
    housekeeping: HousekeepingPort,
) -> ReportFlow:
    """Add the report flow to ``application``: flood guard, conversation and error handler.

    The guard runs in group -1, before every other handler of the application, so a flood is
    refused before it reaches any flow. Call :meth:`ReportFlow.hand_over` from the
    application's ``post_stop`` so open conversations are still erased after a restart.
    """
    flow = ReportFlow(settings, submitter, housekeeping)
    choices.load_names(settings.languages, settings.countries)
    application.add_handler(TypeHandler(Update, flow.guard), group=-1)
    conversation = flow.conversation()
    application.add_handler(conversation)
    watch_idle(application, conversation)
    # After both conversations, in the same group, so only what neither holds comes here.
    # Commands and files are left to handlers registered later (caseworker commands, reply
    # files); plain text and button presses are nobody else's.
    private_text = (
        filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    )
    application.add_handler(MessageHandler(private_text, flow.outside_text))
    application.add_handler(CallbackQueryHandler(flow.unowned_button))
    application.add_error_handler(flow.on_error)
    return flow


def install_outside_catch_all(
    application: Application[Any, Context, Any, Any, Any, Any], flow: ReportFlow
) -> None:
    """Answer, and erase, whatever private message no handler registered before this one took.

    Register it last (after the caseworker commands and reply files, which take some commands
    and documents): a photo, a file, a voice note or an unknown command sent outside any
    conversation would otherwise get no answer and stay in the chat (I7).
    """
    anything_private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(anything_private, flow.outside_text))
