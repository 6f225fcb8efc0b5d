"""The budgets of evidence cleaning, in one place, with the reason for each figure.

They are constants rather than configuration: each one is tied to the others (the pixel budget to
the worker's memory limit, the worker count to the service's ``MemoryMax=`` in
``deploy/sanad.service``), so changing one alone would break the guarantee the set gives — no
file, however crafted, takes more than one worker's memory and one worker's time (DESIGN.md §2:
no user stalls the others). Figures measured on CPython 3.11, Pillow 13, pypdfium2 5 are in the
tests of ``tests/handlers/test_cleaning_sandbox.py`` and ``test_hostile_files.py``.
"""

from __future__ import annotations

# Two workers: the bot's host has two cores, and a third cleaner would only queue behind them
# while taking another worker's memory.
WORKERS = 2
# Files waiting for a worker beyond those being cleaned; the next one is answered "busy, send it
# again in a minute" (and the draft is kept). Six is one album of screenshots from each of three
# reporters at once.
QUEUE = 6

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
# 36 MP (the largest phone photos) peaks at about 8 bytes a pixel (the decoded RGB image, its
# upright copy, and the fresh RGB(A) image it is copied into) — about 300 MB, within the worker.
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
