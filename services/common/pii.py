"""Personal data at rest: names, phone numbers and ID numbers are stored encrypted.

Columns typed `Protected` hold Fernet tokens (AES-128-CBC with an HMAC, from `cryptography`)
under a key derived from XIAOBAO_PII_KEY; the application reads and writes plain text. Matching
(repeat complaints, screening) uses keyed hashes instead, so nothing ever queries these columns.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from services.common import settings as settings_mod

_CONTEXT = b"xiaobao personal data encryption v1"


@functools.lru_cache(maxsize=4)
def _fernet(pii_key: str) -> Fernet:
    # A key of its own, derived from the same secret as the matching hashes but never equal.
    digest = hmac.new(pii_key.encode(), _CONTEXT, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(value: str, pii_key: str | None = None) -> str:
    return _fernet(pii_key or settings_mod.get().pii_key).encrypt(value.encode()).decode()


def decrypt(token: str, pii_key: str | None = None) -> str:
    try:
        return _fernet(pii_key or settings_mod.get().pii_key).decrypt(token.encode()).decode()
    except InvalidToken:
        # Wrong key, or a value written before encryption: never show ciphertext or guess.
        raise ValueError("a protected value cannot be read with XIAOBAO_PII_KEY") from None


def keyed_hash(value: str, pii_key: str | None = None) -> str:
    """For matching the same phone or ID number across cases without storing it in clear."""
    key = pii_key or settings_mod.get().pii_key
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


class Protected(TypeDecorator):
    """A text column stored encrypted; empty stays empty (nothing to protect)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def process_result_value(self, value, dialect):
        if value is None or value == "":
            return value
        return decrypt(value)
