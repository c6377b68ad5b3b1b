"""The staff number (工号) HR gives a person within their organisation: how an import recognises them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.timeutil import utcnow


class StaffNumber(db.Model):
    """One person's staff number in one organisation; a number names one person per organisation."""

    __tablename__ = "staff_numbers"

    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    number: so.Mapped[str] = so.mapped_column(sa.String(40))
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (sa.UniqueConstraint("organisation_id", "number"),)
