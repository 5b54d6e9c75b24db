"""Secrets at rest: Fernet tokens under the keys in FIELD_ENCRYPTION_KEYS.

The first key encrypts; every key decrypts, so a new key can be put first and the old
ones kept until ``manage.py rotate_encryption_keys`` has re-encrypted every secret.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """A stored secret was encrypted under a key that is no longer configured."""


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in settings.FIELD_ENCRYPTION_KEYS])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be comma-separated Fernet keys (32 url-safe base64 bytes); "
            "make one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from exc


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS; "
            "re-enter it in the integration's Settings."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt a token under the first key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("A stored secret cannot be decrypted with any configured key.") from exc
