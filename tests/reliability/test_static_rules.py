"""Architecture rules read from the source: libsodium stays in crypto/, handlers write no file.

STYLE.md: nothing outside ``crypto/`` imports ``nacl`` (one recipe layer, one error type). I1: a
draft lives in memory only, so no module of ``handlers/`` may hold code that writes a file. Both
scans run over every Python file in the repository, so a new package (``desk/``) is held to the
first rule the day it appears.
"""

from __future__ import annotations

import pytest

from tests.reliability.source_rules import ROOT, disk_writes, nacl_imports, python_files

# The raw-libsodium baseline the crypto benchmark compares the recipe layer against: the one
# module outside crypto/ that must call libsodium directly (bench/crypto.py says why).
NACL_OUTSIDE_CRYPTO = {"bench/crypto.py"}


def test_no_module_outside_crypto_imports_nacl() -> None:
    offenders = []
    for path in python_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("crypto/") or relative in NACL_OUTSIDE_CRYPTO:
            continue
        offenders += [f"{relative}:{line} {module}"
                      for line, module in nacl_imports(path.read_text())]
    assert offenders == []


def test_no_handler_module_writes_to_disk() -> None:
    handlers = sorted((ROOT / "handlers").rglob("*.py"))
    assert handlers, "the handlers package was not found"
    offenders = [
        f"{path.relative_to(ROOT)}:{line} {what}"
        for path in handlers
        for line, what in disk_writes(path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "source",
    [
        "import nacl",
        "import nacl.bindings as b",
        "from nacl import secret",
        "from nacl.public import SealedBox",
        "import importlib\nimportlib.import_module('nacl.signing')",
        "__import__('nacl')",
    ],
)
def test_the_nacl_scan_finds_every_form_of_import(source: str) -> None:
    assert nacl_imports(source)


def test_the_nacl_scan_ignores_names_that_only_look_alike() -> None:
    assert nacl_imports("import naclx\nfrom crypto import nacl_free\nx = 'nacl'") == []


@pytest.mark.parametrize(
    "source",
    [
        "open(path, 'w')",
        "open(path, mode='ab')",
        "open(path, 'r+b')",
        "open(path, chosen_mode)",
        "path.open('x')",
        "Path(p).write_text(draft)",
        "path.write_bytes(data)",
        "path.touch()",
        "import tempfile",
        "from shutil import copyfile",
        "os.open(path, flags)",
        "os.replace(a, b)",
    ],
)
def test_the_disk_write_scan_finds_every_way_to_write(source: str) -> None:
    assert disk_writes(source)


@pytest.mark.parametrize(
    "source",
    [
        "open(path)",
        "open(path, 'rb')",
        "path.open('rb')",
        "Image.open(io.BytesIO(data))",
        "image.save(buffer, format='PNG')",
        "path.read_bytes()",
    ],
)
def test_the_disk_write_scan_lets_reads_and_memory_through(source: str) -> None:
    assert disk_writes(source) == []
