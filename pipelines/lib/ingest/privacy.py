"""Privacy rules of spec §6: salted hashing of ResponseId and masking of contact details in free text."""

from __future__ import annotations

import hashlib
import re

import pandas as pd

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A phone number: at least 7 digits, optionally grouped by spaces, dots, dashes or parentheses.
PHONE = re.compile(r"(?<![\w])\+?\(?\d(?:[\d\s().-]{5,}\d)(?![\w])")
EMAIL_MASK = "[email removed]"
PHONE_MASK = "[phone removed]"


def hash_response_id(response_id: str, salt: str) -> str:
    """Return the salted SHA-256 of a ResponseId: stable within one salt, meaningless without it."""
    return hashlib.sha256(f"{salt}\x1f{response_id}".encode()).hexdigest()


def _mask_phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return PHONE_MASK if digits >= 7 else match.group(0)


def mask_contacts(text: str) -> str:
    """Mask e-mail addresses and phone numbers in one free-text answer."""
    return PHONE.sub(_mask_phone, EMAIL.sub(EMAIL_MASK, text))


def mask_series(texts: pd.Series) -> pd.Series:
    """Mask e-mail addresses and phone numbers in a column of free text (missing stays missing)."""
    return texts.map(lambda t: mask_contacts(t) if isinstance(t, str) else t)
