"""DSSE envelopes (secure-systems-lab/dsse v1): the signature is over the pre-authentication
encoding of the payload and its type, never over the payload alone. A few lines of our own: the
spec is short, and the verifier an auditor runs (VERIFY.md) is the same few lines."""

from __future__ import annotations

import base64
import binascii
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from drtests.sign import keys

PAYLOAD_TYPE = "application/vnd.in-toto+json"


class EnvelopeError(ValueError):
    """An envelope that is not one: malformed, unsigned, or signed by another key."""


def pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def envelope(payload: bytes, key: Ed25519PrivateKey | None) -> dict:
    """The envelope of `payload`; with no key, one with no signatures (an unsigned drill)."""
    signatures = []
    if key is not None:
        sig = key.sign(pae(PAYLOAD_TYPE, payload))
        signatures.append({"keyid": keys.keyid(key.public_key()), "sig": base64.b64encode(sig).decode()})
    return {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(), "signatures": signatures}


def parse(text: str) -> tuple[bytes, list[dict]]:
    """The payload and signatures of an envelope's JSON; EnvelopeError names what is wrong."""
    try:
        env = json.loads(text)
    except ValueError as exc:
        raise EnvelopeError(f"not JSON ({exc})") from None
    if not isinstance(env, dict) or env.get("payloadType") != PAYLOAD_TYPE:
        raise EnvelopeError(f"not a DSSE envelope of an in-toto statement (payloadType is not {PAYLOAD_TYPE})")
    sigs = env.get("signatures")
    if not isinstance(sigs, list) or not all(isinstance(s, dict) and isinstance(s.get("sig"), str) for s in sigs):
        raise EnvelopeError("its signatures are malformed (a list of {keyid, sig} is expected)")
    try:
        payload = base64.b64decode(str(env.get("payload", "")), validate=True)
    except binascii.Error:
        raise EnvelopeError("its payload is not base64") from None
    return payload, sigs


def signed_by(payload: bytes, signatures: list[dict], public: Ed25519PublicKey) -> bool:
    """Whether one of the signatures is this key's over this payload."""
    for entry in signatures:
        try:
            sig = base64.b64decode(entry["sig"], validate=True)
        except binascii.Error:
            continue
        if keys.valid(public, sig, pae(PAYLOAD_TYPE, payload)):
            return True
    return False
