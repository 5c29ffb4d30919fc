"""Symmetric encryption of backend secrets.

Keys come from the server (``encryption_keys`` in the ``[distribution]``
section of the Odoo config file, or ``DISTRIBUTION_ENCRYPTION_KEYS``), as a
comma-separated list of Fernet keys: the first one encrypts, every one
decrypts, so keys rotate by prepending a new key and re-saving the secrets
(``distribution.backend.action_reencrypt_secrets``).
"""

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from odoo.exceptions import UserError

from .settings import setting

KEYS_SETTING = "encryption_keys"


class MissingKeyError(UserError):
    pass


@functools.lru_cache(maxsize=8)
def _cipher_for(raw_keys):
    keys = [key.strip() for key in raw_keys.split(",") if key.strip()]
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as err:
        raise MissingKeyError(
            "The Distribution Sync encryption keys are malformed: each key must "
            "be a url-safe base64 Fernet key of 32 bytes."
        ) from err


def _raw_keys():
    raw_keys = setting(KEYS_SETTING) or ""
    if not raw_keys.strip():
        raise MissingKeyError(
            "No encryption key is configured for Distribution Sync secrets. Set "
            "'encryption_keys' in the [distribution] section of the Odoo "
            "configuration file or the DISTRIBUTION_ENCRYPTION_KEYS environment "
            "variable (generate one with: python3 -c 'from cryptography.fernet "
            "import Fernet; print(Fernet.generate_key().decode())')."
        )
    return raw_keys


def _cipher():
    return _cipher_for(_raw_keys())


def encrypt(plain):
    """Encrypt a text; ``False``/empty stays empty."""
    if not plain:
        return False
    return _cipher().encrypt(plain.encode()).decode()


@functools.lru_cache(maxsize=128)
def _decrypt(raw_keys, token):
    # Per process, in memory only: the plain text is never stored elsewhere.
    # Keyed by the ciphertext, so a new secret (a new ciphertext) misses;
    # and by the key list, so a removed key stops decrypting at once.
    return _cipher_for(raw_keys).decrypt(token.encode()).decode()


def decrypt(token):
    """Decrypt a token made by :func:`encrypt`."""
    if not token:
        return False
    try:
        return _decrypt(_raw_keys(), token)
    except InvalidToken as err:
        raise MissingKeyError(
            "A Distribution Sync secret cannot be decrypted with the configured "
            "keys: was the key that encrypted it removed from the key list?"
        ) from err


def rotate(token):
    """Re-encrypt a token under the primary key."""
    if not token:
        return False
    try:
        return _cipher().rotate(token.encode()).decode()
    except InvalidToken as err:
        raise MissingKeyError(
            "A Distribution Sync secret cannot be decrypted with the configured "
            "keys: add the key that encrypted it to the key list before rotating."
        ) from err
