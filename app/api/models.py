"""API tokens: each carries its user's roles and nothing more; only a hash is stored."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.timeutil import utcnow


class ApiToken(db.Model):
    """A bearer token for /api/v1, shown once at creation; revocable by its user or an operator."""

    __tablename__ = "api_tokens"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)  # sha256 hex of the token
    prefix: so.Mapped[str] = so.mapped_column(sa.String(12))  # the first characters, to tell tokens apart
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_used_at: so.Mapped[datetime | None]
    revoked_at: so.Mapped[datetime | None]

    user: so.Mapped[User] = so.relationship()  # noqa: F821

    @property
    def active(self) -> bool:
        return self.revoked_at is None
