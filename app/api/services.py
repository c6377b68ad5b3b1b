"""API tokens: create, find by bearer value, revoke. They flush, never commit."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import User
from app.api.models import ApiToken
from app.audit.services import record_action
from app.errors import Conflict, DomainError, NotAllowed
from app.extensions import db
from app.pagination import parse_id
from app.timeutil import utcnow

PREFIX_LENGTH = 8
# last_used_at is written at most this often per token, so reading the API does not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """The sha256 hex digest stored in place of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(actor: User | None, user: User, name: str = "") -> tuple[str, ApiToken]:
    """Make a token for the user; returns (the token, shown once; its row). Raises DomainError.

    The token carries the user's roles and nothing more: it is only another way of signing in.
    """
    if not user.active:
        raise DomainError(_("This account is deactivated."), field="email")
    name = (name or "").strip() or _("API token")
    if len(name) > 100:
        raise DomainError(_("Use at most 100 characters."), field="name")
    # A fixed readable start ("bg_"): a token never begins with "-", which a command line would take for an option.
    token = "bg_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=hash_token(token), prefix=token[:PREFIX_LENGTH])
    db.session.add(row)
    db.session.flush()
    record_action(actor, "api_token_created", user, token_id=row.id, prefix=row.prefix)
    return token, row


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, live ones first, newest first."""
    return list(db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == user.id)
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
    ))


def find_tokens(id_or_prefix: str) -> list[ApiToken]:
    """Tokens whose id is the number given, or whose prefix starts with the text given."""
    text = (id_or_prefix or "").strip()
    if not text:
        return []
    query = sa.select(ApiToken).where(ApiToken.prefix.startswith(text, autoescape=True))
    number = parse_id(text)
    if number is not None:
        query = sa.select(ApiToken).where(
            sa.or_(ApiToken.id == number, ApiToken.prefix.startswith(text, autoescape=True))
        )
    return list(db.session.scalars(query.order_by(ApiToken.id)))


def revoke_token(actor: User | None, token: ApiToken, now: datetime | None = None) -> None:
    """Stop the token working. Raises NotAllowed unless the actor owns it (None: an operator's CLI).

    Raises Conflict when it is already revoked.
    """
    if actor is not None and actor.id != token.user_id:
        raise NotAllowed(_("You can revoke only your own tokens."))
    if token.revoked_at is not None:
        raise Conflict(_("This token is already revoked."))
    token.revoked_at = now or utcnow()
    db.session.flush()
    record_action(actor, "api_token_revoked", token.user, token_id=token.id, prefix=token.prefix)


def user_for_token(token: str, now: datetime | None = None) -> User | None:
    """The active user a live token belongs to, or None; notes the use at most once a minute."""
    if not token or len(token) > 200:
        return None
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        db.session.flush()
    return row.user
