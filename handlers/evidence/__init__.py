"""Evidence files: recognised by content, cleaned of metadata in a sandbox, held in memory only.

A screenshot or photo can carry the reporter's location (EXIF GPS), their phone model, the editing
app, a thumbnail of the uncropped original; a PDF its author's name, attached files, JavaScript;
a voice note tags, cover art and whatever is glued after it. If a report leaks, that metadata
identifies the reporter (DESIGN.md §2). So every file is:

* downloaded into memory (bytes, never a temporary file — I1) by the flow, which checks the size
  Telegram claims before downloading and the real size after;
* cleaned in a fresh, limited worker process (:mod:`.sandbox`), so no file can take the bot's
  memory or stall other reporters, and a file that kills its worker costs only itself;
* recognised there by its first bytes, never by the name or MIME type the sender claims
  (:mod:`.cleaner`), and rebuilt from what a person sees or hears: images from their pixels
  (:mod:`.images`, HEIC included), PDFs from pictures of their pages (:mod:`.pdf`), voice notes
  from their audio packets (:mod:`.ogg`); anything else is refused.

Budgets and their reasons are in :mod:`.limits`; answers and refusals in :mod:`.results`.
"""

from handlers.evidence.results import CleanedEvidence, check_size
from handlers.evidence.sandbox import CleaningSandbox, shared_sandbox

__all__ = ["CleanedEvidence", "CleaningSandbox", "check_size", "shared_sandbox"]
