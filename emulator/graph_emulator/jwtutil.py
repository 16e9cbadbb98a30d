"""Minimal JWT handling with the standard library and cryptography (the emulator does not depend on PyJWT)."""

import base64
import binascii
import hashlib
import hmac
import json

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class JwtError(ValueError):
    """The text is not a well-formed JWT, or its signature does not verify."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JwtError("bad base64url") from exc


def split(token: str):
    """-> (header dict, payload dict, signing input bytes, signature bytes)."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise JwtError("a JWT has three dot-separated parts")
    head, body, sig = token.split(".")
    try:
        header = json.loads(b64url_decode(head))
        payload = json.loads(b64url_decode(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwtError("header or payload is not JSON") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise JwtError("header and payload must be JSON objects")
    return header, payload, f"{head}.{body}".encode("ascii"), b64url_decode(sig)


def encode_hs256(payload: dict, secret: bytes, extra_header: dict = None) -> str:
    header = {"typ": "JWT", "alg": "HS256", **(extra_header or {})}
    signing_input = f"{b64url_encode(json.dumps(header, separators=(',', ':')).encode())}." \
                    f"{b64url_encode(json.dumps(payload, separators=(',', ':')).encode())}"
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(signature)}"


def verify_hs256(token: str, secret: bytes) -> dict:
    header, payload, signing_input, signature = split(token)
    if header.get("alg") != "HS256":
        raise JwtError("unexpected algorithm")
    if not hmac.compare_digest(hmac.new(secret, signing_input, hashlib.sha256).digest(), signature):
        raise JwtError("signature does not verify")
    return payload


def verify_rsa(signing_input: bytes, signature: bytes, alg: str, certificate_pem: str):
    """Verify an RS256/PS256 signature (what MSAL produces for certificate credentials) with a certificate."""
    public_key = x509.load_pem_x509_certificate(certificate_pem.encode("ascii")).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise JwtError("the registered certificate does not hold an RSA key")
    if alg == "RS256":
        pad = padding.PKCS1v15()
    elif alg == "PS256":
        # RFC 7518 §3.5: MGF1 with SHA-256 and a salt as long as the hash.
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    else:
        raise JwtError(f"'{alg}' is not a supported signature algorithm")
    try:
        public_key.verify(signature, signing_input, pad, hashes.SHA256())
    except InvalidSignature as exc:
        raise JwtError("signature does not verify") from exc
