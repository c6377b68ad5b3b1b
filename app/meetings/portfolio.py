"""What a leader's portfolio and a member's certificate are made of beyond their queries: the portfolio as CSV
for accreditation bodies, and who issues a certificate. The pages are in routes/portfolio.py."""

from __future__ import annotations

from flask_babel import gettext as _

from app.accounts.models import User
from app.csvutil import csv_text
from app.extensions import db
from app.meetings import queries
from app.programme.models import Organisation
from app.scheduling.forms import role_choices
from app.timeutil import local_date


def portfolio_as_csv(data: queries.Portfolio) -> bytes:
    """The portfolio's meetings and supervision as UTF-8 CSV (with BOM), the header in the reader's language."""
    roles = {k: str(v) for k, v in role_choices()}
    header = [_("Kind"), _("Date"), _("Group"), _("Role"), _("Minutes"), _("With whom"), _("Members present")]
    rows = [
        [_("Meeting"), local_date(m.started_at).isoformat(), m.group_name, roles.get(m.role, m.role),
         m.minutes, "; ".join(m.with_whom), m.present]
        for m in data.meetings
    ] + [
        [_("Supervision"), s.held_on.isoformat(), "", "", s.minutes, s.supervisor, ""]
        for s in data.supervisions
    ]
    return csv_text(header, rows).encode("utf-8")


def certificate_issuer(viewer: User, person: User, attended: queries.Attended) -> str | None:
    """Who issues the certificate: the viewing coordinator's organisation, else the organisation of the groups
    attended (when there is one), else the member's own, else all the groups' organisations."""
    if viewer.has_role("coordinator"):
        org_id = viewer.coordinator_scope or viewer.organisation_id
        org = db.session.get(Organisation, org_id) if org_id else None
        if org is not None:
            return org.name
    names = list(attended.organisations.values())
    if len(names) == 1:
        return names[0]
    if person.organisation is not None:
        return person.organisation.name
    return ", ".join(names) or None
