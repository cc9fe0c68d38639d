"""Key material for tokens: loaded once at start-up, with the algorithms each key may use pinned.

Pinning is what stops algorithm confusion: a token is only ever checked with the algorithms of
the key configured (HS* for a secret; RS*/PS*/ES*/EdDSA for public keys), never with the one
the token's header asks for, and never `none`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings.policy_settings import JwtSettings

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
ASYMMETRIC_ALGORITHMS = (*RSA_ALGORITHMS, "ES256", "ES384", "ES512", "EdDSA")


class KeyMaterialError(Exception):
    """Key material that cannot be used: the setting and why (one line)."""

    def __init__(self, key: str, reason: str) -> None:
        self.key, self.reason = key, reason
        super().__init__(f"{key}: {reason}")


@dataclass(frozen=True)
class SigningKey:
    """What the gateway signs its own tokens with (login, mint, `gw token`)."""

    key: Any
    algorithm: str


@dataclass(frozen=True)
class VerifyingKey:
    """A static key tokens are checked with, and the algorithms it may be used with."""

    key: Any
    algorithms: tuple[str, ...]


def read_pem(value: str, root: Path, setting: str) -> bytes:
    """PEM text as given, or the file it names (relative to gateway.yaml's folder)."""
    if "-----BEGIN" in value:
        return value.encode()
    path = Path(value).expanduser()
    path = path if path.is_absolute() else root / path
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyMaterialError(setting, f"cannot read {path}: {exc.strerror or exc}") from None


def key_algorithms(key: Any, setting: str) -> tuple[str, ...]:
    """The algorithms a public or private key can verify or sign with."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # on first use: most gateways hold no key

    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return RSA_ALGORITHMS
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        algorithm = EC_ALGORITHMS.get(key.curve.name)
        if algorithm is None:
            raise KeyMaterialError(setting, f"curve {key.curve.name} is not supported (P-256, P-384, P-521 are)")
        return (algorithm,)
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return ("EdDSA",)
    raise KeyMaterialError(setting, f"unsupported key type {type(key).__name__}")


def _pinned(available: tuple[str, ...], configured: list[str], setting: str) -> tuple[str, ...]:
    """The configured algorithms if the key can use them all; else the key's one default.

    A secret defaults to exactly HS256 and an RSA key to RS256 (as documented): a token signed with
    HS512 under the same secret is refused unless `algorithms` lists it.
    """
    if not configured:
        return available[:1] if available in (RSA_ALGORITHMS, HMAC_ALGORITHMS) else available
    wrong = [a for a in configured if a not in available]
    if wrong:
        raise KeyMaterialError("algorithms", f"{', '.join(wrong)} cannot be used with the key in {setting}")
    return tuple(configured)


def verifying_key(settings: JwtSettings, root: Path) -> VerifyingKey | None:
    """The static key (secret or public key; else the private key's public half); None with JWKS."""
    if settings.secret:
        return VerifyingKey(settings.secret.encode(), _pinned(HMAC_ALGORITHMS, settings.algorithms, "secret"))
    if settings.public_key:
        from cryptography.hazmat.primitives import serialization

        pem = read_pem(settings.public_key, root, "public_key")
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError:
            raise KeyMaterialError("public_key", "not a PEM public key") from None
        return VerifyingKey(key, _pinned(key_algorithms(key, "public_key"), settings.algorithms, "public_key"))
    if settings.private_key and not settings.jwks_url:
        signing = signing_key(settings, root)
        assert signing is not None
        public = signing.key.public_key()
        return VerifyingKey(public, _pinned(key_algorithms(public, "private_key"), settings.algorithms, "private_key"))
    return None


def jwks_algorithms(settings: JwtSettings) -> tuple[str, ...]:
    """What a JWKS key may be used with: the configured list, or RS256 and ES256."""
    configured = tuple(settings.algorithms) or ("RS256", "ES256")
    wrong = [a for a in configured if a not in ASYMMETRIC_ALGORITHMS]
    if wrong:
        raise KeyMaterialError("algorithms", f"{', '.join(wrong)} cannot be used with jwks_url (public keys only)")
    return configured


def signing_key(settings: JwtSettings, root: Path) -> SigningKey | None:
    """The key the gateway signs with: the secret, or the private key; None when it has neither."""
    if settings.secret:
        return SigningKey(settings.secret.encode(), _pinned(HMAC_ALGORITHMS, settings.algorithms, "secret")[0])
    if not settings.private_key:
        return None
    from cryptography.hazmat.primitives import serialization

    pem = read_pem(settings.private_key, root, "private_key")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise KeyMaterialError("private_key", "not an unencrypted PEM private key") from None
    return SigningKey(key, _pinned(key_algorithms(key, "private_key"), settings.algorithms, "private_key")[0])
