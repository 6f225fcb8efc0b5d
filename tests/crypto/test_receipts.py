"""Receipts: typing variants, typo detection before any derivation, and the mailbox they open."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import _sodium
from crypto.receipts import (
    PAYLOAD_DIGITS,
    RECEIPT_DIGITS,
    MalformedReceipt,
    Receipt,
    ReceiptError,
    ReceiptTypo,
    _generate_receipt_from_parts,
    derive_mailbox,
    derive_master_secret,
    generate_receipt,
    parse_receipt,
)

SALT = bytes(range(16))
PEPPER = bytes(range(100, 132))
SAMPLE = _generate_receipt_from_parts("314159265358979323846264338")

ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
PERSIAN = "۰۱۲۳۴۵۶۷۸۹"


def _in_digits(text: str, alphabet: str) -> str:
    return "".join(alphabet[int(c)] if c.isdigit() else c for c in text)


def test_generated_receipt_is_28_digits_with_a_valid_check_digit() -> None:
    receipt = generate_receipt()
    assert len(receipt.digits) == RECEIPT_DIGITS
    assert parse_receipt(receipt.to_display()) == receipt


def test_generated_receipts_differ() -> None:
    assert len({generate_receipt().digits for _ in range(50)}) == 50


def test_display_is_seven_groups_of_four() -> None:
    groups = SAMPLE.to_display().split(" ")
    assert [len(g) for g in groups] == [4] * 7
    assert "".join(groups) == SAMPLE.digits


def test_receipt_repr_and_str_are_redacted() -> None:
    for rendered in (repr(SAMPLE), str(SAMPLE), f"{SAMPLE}", f"{SAMPLE!r}"):
        assert SAMPLE.digits[:6] not in rendered
        assert "redacted" in rendered


def test_typed_variants_open_the_same_mailbox() -> None:
    display = SAMPLE.to_display()
    variants = [
        display,
        SAMPLE.digits,
        _in_digits(display, ARABIC_INDIC),
        _in_digits(display, PERSIAN),
        display.replace(" ", "-"),
        display.replace(" ", "\u2013"),  # en dash
        display.replace(" ", "\u00a0"),  # no-break space
        "\u200f" + _in_digits(display, ARABIC_INDIC).replace(" ", " - ") + "\n",
    ]
    parsed = {parse_receipt(text) for text in variants}
    assert parsed == {SAMPLE}
    expected = derive_mailbox(SAMPLE, salt=SALT, pepper=PEPPER)
    for alphabet in (ARABIC_INDIC, PERSIAN):
        opened = derive_mailbox(
            parse_receipt(_in_digits(display, alphabet)), salt=SALT, pepper=PEPPER
        )
        assert opened.lookup_tag == expected.lookup_tag
        assert opened.key.raw == expected.key.raw


def test_every_single_digit_typo_is_caught_by_the_check_digit() -> None:
    caught = 0
    for position in range(RECEIPT_DIGITS):
        for digit in "0123456789":
            if digit == SAMPLE.digits[position]:
                continue
            typo = SAMPLE.digits[:position] + digit + SAMPLE.digits[position + 1 :]
            with pytest.raises(ReceiptTypo):
                parse_receipt(typo)
            caught += 1
    assert caught == RECEIPT_DIGITS * 9


def test_every_adjacent_transposition_is_caught_by_the_check_digit() -> None:
    digits = SAMPLE.digits
    swaps = [i for i in range(RECEIPT_DIGITS - 1) if digits[i] != digits[i + 1]]
    assert len(swaps) > 20  # the sample must actually exercise transpositions
    for i in swaps:
        swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
        with pytest.raises(ReceiptTypo):
            parse_receipt(swapped)


def test_typo_is_refused_before_any_argon2id(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(_sodium, "argon2id", lambda *a, **k: calls.append(a))
    typo = ("1" if SAMPLE.digits[0] != "1" else "2") + SAMPLE.digits[1:]
    with pytest.raises(ReceiptTypo):
        derive_mailbox(parse_receipt(typo), salt=SALT, pepper=PEPPER)
    assert calls == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1234",
        SAMPLE.digits + "0",
        SAMPLE.digits[:-1],
        SAMPLE.digits[:10] + "x" + SAMPLE.digits[10:],
        SAMPLE.digits[:10] + "٣" + "\u0663\u0301" + SAMPLE.digits[12:],  # combining mark
        "１" * RECEIPT_DIGITS,  # full-width digits are not among the accepted sets
        "0" * 200,
    ],
)
def test_malformed_input_is_refused_precisely(text: str) -> None:
    with pytest.raises(MalformedReceipt):
        parse_receipt(text)


def test_error_messages_do_not_echo_the_receipt() -> None:
    typo = SAMPLE.digits[:-1] + str((int(SAMPLE.digits[-1]) + 1) % 10)
    with pytest.raises(ReceiptTypo) as info:
        parse_receipt(typo)
    assert typo[:6] not in str(info.value)


def test_receipt_constructor_rejects_a_bad_check_digit() -> None:
    with pytest.raises(ReceiptTypo):
        Receipt(SAMPLE.digits[:-1] + str((int(SAMPLE.digits[-1]) + 1) % 10))


_SEPARATORS = st.sampled_from(["", " ", "-", "\u2010", "\u00a0", "\u202f", " - ", "\t"])


@given(
    payload=st.text(alphabet="0123456789", min_size=PAYLOAD_DIGITS, max_size=PAYLOAD_DIGITS),
    alphabets=st.lists(
        st.sampled_from(["0123456789", ARABIC_INDIC, PERSIAN]),
        min_size=RECEIPT_DIGITS,
        max_size=RECEIPT_DIGITS,
    ),
    separators=st.lists(_SEPARATORS, min_size=RECEIPT_DIGITS, max_size=RECEIPT_DIGITS),
)
def test_any_rendering_parses_back_to_the_same_receipt(
    payload: str, alphabets: list[str], separators: list[str]
) -> None:
    receipt = _generate_receipt_from_parts(payload)
    typed = "".join(
        alphabet[int(digit)] + separator
        for digit, alphabet, separator in zip(receipt.digits, alphabets, separators, strict=True)
    )
    assert parse_receipt(typed) == receipt
    assert parse_receipt(receipt.to_display()) == receipt


def test_pepper_rotation_needs_one_argon2id_run(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []
    real = _sodium.argon2id

    def counting(*args: object, **kwargs: int) -> bytes:
        runs.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_sodium, "argon2id", counting)
    new_pepper = bytes(32)
    master = derive_master_secret(SAMPLE, salt=SALT)
    old_tag, new_tag = master.lookup_tag(PEPPER), master.lookup_tag(new_pepper)
    assert runs == [1]
    assert old_tag != new_tag
    assert old_tag == derive_mailbox(SAMPLE, salt=SALT, pepper=PEPPER).lookup_tag
    assert new_tag == derive_mailbox(SAMPLE, salt=SALT, pepper=new_pepper).lookup_tag


def test_mailbox_key_does_not_depend_on_the_pepper_and_differs_per_receipt() -> None:
    master = derive_master_secret(SAMPLE, salt=SALT)
    assert master.mailbox(PEPPER).key.raw == master.mailbox(bytes(32)).key.raw
    other = derive_master_secret(generate_receipt(), salt=SALT)
    assert other.mailbox_key().raw != master.mailbox_key().raw
    assert other.lookup_tag(PEPPER) != master.lookup_tag(PEPPER)


def test_salt_separates_deployments() -> None:
    a = derive_master_secret(SAMPLE, salt=SALT)
    b = derive_master_secret(SAMPLE, salt=bytes(16))
    assert a.lookup_tag(PEPPER) != b.lookup_tag(PEPPER)


def test_secrets_have_redacted_repr() -> None:
    master = derive_master_secret(SAMPLE, salt=SALT)
    mailbox = master.mailbox(PEPPER)
    assert master.raw.hex() not in repr(master)
    assert mailbox.lookup_tag.hex() not in repr(mailbox)
    assert mailbox.key.raw.hex() not in repr(mailbox)


@pytest.mark.parametrize(("salt", "pepper"), [(bytes(15), PEPPER), (SALT, bytes(31))])
def test_wrong_sized_salt_or_pepper_is_refused_before_deriving(
    monkeypatch: pytest.MonkeyPatch, salt: bytes, pepper: bytes
) -> None:
    monkeypatch.setattr(_sodium, "argon2id", lambda *a, **k: pytest.fail("derived"))
    with pytest.raises(ReceiptError):
        derive_mailbox(SAMPLE, salt=salt, pepper=pepper)
