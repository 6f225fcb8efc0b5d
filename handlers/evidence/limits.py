"""The budgets of evidence cleaning, in one place, with the reason for each figure.

They are constants rather than configuration: each one is tied to the others (the pixel budget to
the worker's memory limit, the worker count to the service's ``MemoryMax=`` in
``deploy/sanad.service``), so changing one alone would break the guarantee the set gives — no
file, however crafted, takes more than one worker's memory and one worker's time (DESIGN.md §2:
no user stalls the others). Figures measured on CPython 3.11, Pillow 13, pillow-heif 1.9 and
pypdfium2 5 (a worker's peak resident memory, from ``getrusage``):

* 36 MP photo, the largest accepted: 320 MB (JPEG), 329 MB (HEIC), 352 MB (palette PNG with
  transparency, which becomes RGBA) — 0.5 to 1 s each;
* 30-page PDF at the page budget: 102 MB, 0.9 s;
* 2 MB PDF whose content stream inflates to 2 GB: stopped at the address-space limit
  (979 MB resident) and refused after 0.9 s; the bot's own memory does not move;
* 33 kB JPEG with 3000 scans: refused before decoding, 0.2 s (mostly starting the worker).
"""

from __future__ import annotations

# Two workers: the bot's host has two cores, and a third cleaner would only queue behind them
# while taking another worker's memory.
WORKERS = 2
# Files waiting for a worker beyond those being cleaned; the next one is answered "busy, send it
# again in a minute" (and the draft is kept). Telegram sends an album as up to ten files at once:
# eighteen waiting lets two reporters' full albums through together (a photo takes 0.3 to 1 s,
# so the last waits seconds, not minutes), while the waiting files' bytes in the bot stay below
# 18 × the per-file limit (360 MB at 20 MB; photos are usually 1 to 3 MB).
QUEUE = 18

# Address space of one worker (RLIMIT_AS), set in the worker before it reads the file: about
# 90 MB of it is the interpreter and the imaging libraries, the rest the largest accepted image
# or page. A crafted file that wants more gets a MemoryError or dies, and costs that file alone.
# Two workers and the bot together stay under the unit's MemoryMax= (deploy/sanad.service).
WORKER_ADDRESS_SPACE = 1024 * 1024 * 1024
# CPU seconds of one worker (RLIMIT_CPU: the kernel kills it) and its wall-clock time (the parent
# kills it): a photo takes well under a second, a 30-page PDF a few seconds.
WORKER_CPU_SECONDS = 20
WORKER_WALL_SECONDS = 30.0

# Pixels of an image, read from its header before anything is decoded. Decoding and re-encoding
# 36 MP (the largest phone photos) peaks at about 9 bytes a pixel (the decoded image, a rotated
# or converted copy, the fresh image it is copied into) — 320 to 352 MB measured, well within
# the worker's address space, so that the limit stops crafted files, not photos.
MAX_IMAGE_PIXELS = 36_000_000
# Scans of a JPEG (SOS markers, counted before decoding). A progressive photo has about ten; each
# scan makes libjpeg walk the whole image again, so thousands of tiny scans burn minutes of CPU
# on a small file.
MAX_JPEG_SCANS = 100

# Pages of a PDF, each rendered to a picture; a report needs the pages that matter, and a longer
# document can be sent as several files.
MAX_PDF_PAGES = 30
# Rendering resolution of a PDF page, and the most pixels a page may have (a page larger than
# A4 is rendered at a lower resolution so that it fits): 4 MP of RGB is 12 MB per page.
PDF_RENDER_DPI = 150
MAX_PDF_PAGE_PIXELS = 4_000_000

JPEG_QUALITY = 90
