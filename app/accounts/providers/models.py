"""A person's identity at a sign-in provider: (provider, subject) names one account here."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.timeutil import utcnow

PROVIDERS = ("ldap", "oidc")


class ProviderIdentity(db.Model):
    """The stable id a provider gives a person (LDAP entryUUID/objectGUID or the OIDC `sub`), linked to one user."""

    __tablename__ = "provider_identities"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: so.Mapped[str] = so.mapped_column(sa.String(20))
    subject: so.Mapped[str] = so.mapped_column(sa.String(255))
    # What the provider called the person when linked (a login name or e-mail), shown on the person's page.
    display: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_login_at: so.Mapped[datetime | None]

    user: so.Mapped[User] = so.relationship()  # noqa: F821

    __table_args__ = (
        sa.UniqueConstraint("provider", "subject"),
        sa.CheckConstraint("provider IN ('ldap', 'oidc')", name="provider"),
    )
