"""Password hashes for the built-in login: bcrypt ($2b$) or argon2id, checked off the event loop.

Both are slow on purpose (tens to hundreds of milliseconds), so every check runs in a thread.
"""

from __future__ import annotations

import asyncio

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

BCRYPT_MAX_BYTES = 72
_argon2 = PasswordHasher()


class PasswordError(Exception):
    """A password that cannot be hashed (one line for the CLI)."""


def hash_password(password: str, argon2: bool = False) -> str:
    """A hash for `auth.users[].password_hash`: bcrypt by default, argon2id when asked."""
    if not password:
        raise PasswordError("the password is empty")
    if argon2:
        return _argon2.hash(password)
    raw = password.encode()
    if len(raw) > BCRYPT_MAX_BYTES:
        raise PasswordError(f"bcrypt uses at most {BCRYPT_MAX_BYTES} bytes of a password; use --argon2 for longer ones")
    return bcrypt.hashpw(raw, bcrypt.gensalt()).decode()


def matches(password: str, password_hash: str) -> bool:
    """Whether `password` is the one `password_hash` was made from (False for any malformed input)."""
    try:
        if password_hash.startswith("$argon2"):
            return _argon2.verify(password_hash, password)
        raw = password.encode()
        return len(raw) <= BCRYPT_MAX_BYTES and bcrypt.checkpw(raw, password_hash.encode())
    except (VerificationError, InvalidHashError, ValueError):
        return False


async def check(password: str, password_hash: str) -> bool:
    """`matches` in a worker thread, so a login does not stall every other request."""
    return await asyncio.to_thread(matches, password, password_hash)
