"""Secrets (a remote LLM key) live only in the system keyring, never in settings, logs or errors.

Headless Linux often has no keyring backend; then storing fails with a clear message instead of
silently falling back to a plain-text file.
"""

from __future__ import annotations

import keyring
import keyring.errors

SERVICE = "sticker-assistant"


class NoKeyringError(RuntimeError):
    """No secure keyring on this system; the user is told how to get one."""


def _wrap(exc: Exception) -> NoKeyringError:
    return NoKeyringError(
        "No system keyring is available to store the key securely "
        f"({type(exc).__name__}). Install and unlock one (GNOME Keyring, KWallet, macOS Keychain, "
        "Windows Credential Manager); Sticker Assistant does not store keys in plain text.")


def set_secret(name: str, value: str) -> None:
    try:
        keyring.set_password(SERVICE, name, value)
    except (keyring.errors.NoKeyringError, keyring.errors.KeyringError, RuntimeError) as exc:
        raise _wrap(exc) from None


def get_secret(name: str) -> str | None:
    try:
        return keyring.get_password(SERVICE, name)
    except (keyring.errors.NoKeyringError, keyring.errors.KeyringError, RuntimeError):
        return None


def delete_secret(name: str) -> None:
    try:
        keyring.delete_password(SERVICE, name)
    except keyring.errors.PasswordDeleteError:
        pass
    except (keyring.errors.NoKeyringError, keyring.errors.KeyringError, RuntimeError) as exc:
        raise _wrap(exc) from None
