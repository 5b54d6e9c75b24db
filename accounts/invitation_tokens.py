"""Signed, single-use invitation tokens, shared by staff invitations (accounts.staff) and
client-portal invitations (portal.invitations).

Invariants:
- A token is signed (django.core.signing) with a salt per kind of invitation, so a token
  of one kind is never accepted as another.
- It carries the user id, the invitation id and a digest of the account's state (password
  hash, last sign-in, active, e-mail): setting the password, signing in or a deactivation
  changes the state, so every link of that user stops working ("already used").
- Tokens travel after "#" in the link (browsers never send it), and the accept page posts
  them (static/js/invitation.js).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.core import signing

from accounts.models import User


class TokenInvalid(Exception):
    """Not a token we issued (or not of this kind)."""


class TokenExpired(TokenInvalid):
    """Older than the invitation's lifetime."""


def account_state(user: User) -> str:
    raw = f"{user.pk}:{user.password}:{user.last_login}:{user.is_active}:{user.email}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def invitation_token_sign(*, user: User, invitation_id: int, salt: str) -> str:
    return signing.dumps({"u": user.pk, "s": account_state(user), "i": invitation_id}, salt=salt)


def invitation_token_read(token: str, *, salt: str, max_age: timedelta) -> dict:
    """The token's payload (``u`` user id, ``s`` account state, ``i`` invitation id when it has
    one), or TokenExpired / TokenInvalid."""
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise TokenExpired from None
    except signing.BadSignature:
        raise TokenInvalid from None
    if not isinstance(data, dict):
        raise TokenInvalid
    return data
