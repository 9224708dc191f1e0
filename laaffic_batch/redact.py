"""Redaction: phone numbers masked to their last 4 digits, secrets removed.

One place for the rules, used by the structlog processor, the sandbox's log lines and the
plan preview. Not applied to the CLI's one-line error messages: an input error may quote up
to 80 characters of a raw row so that the row can be found and fixed."""

from __future__ import annotations

import re

# 6+ digits, possibly with the separators people write numbers with, not part of a
# longer word or number: long enough to be a phone number, short values (counts,
# ports, years) stay readable.
_NUMBER_LIKE = re.compile(r"(?<![\w.])\+?\d(?:[\d \-.()]{4,}\d)(?![\w])")
_MIN_DIGITS = 6


def mask_number(number: str) -> str:
    """`46701234567` -> `*******4567`."""
    digits = str(number)
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def _mask_match(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    if len(digits) < _MIN_DIGITS:
        return text
    return mask_number(digits)


def mask_numbers_in(text: str) -> str:
    """Mask every phone-number-like run of digits inside free text."""
    return _NUMBER_LIKE.sub(_mask_match, text)


def remove_secret(text: str, secret: str | None) -> str:
    if secret and secret in text:
        return text.replace(secret, "[secret]")
    return text
