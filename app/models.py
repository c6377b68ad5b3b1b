"""Imports every feature's models so that Alembic and the app see every table."""

from app.accounts.models import RoleAssignment, StaffNumber, TrainingRecord, User  # noqa: F401
from app.accounts.providers.models import ProviderIdentity  # noqa: F401
from app.api.models import ApiToken  # noqa: F401
from app.audit.models import AuditEntry  # noqa: F401
from app.feedback.models import (  # noqa: F401
    Answer,
    Completion,
    Draft,
    FeedbackRound,
    Instrument,
    Response,
    RoundMeeting,
)
from app.meetings.models import (  # noqa: F401
    Attendance,
    FacilitationPlan,
    LeaderNote,
    LiveState,
    MeetingRecord,
    Supervision,
    Theme,
)
from app.notifications.models import GroupPost, GroupRobot, Notification, PlatformToken  # noqa: F401
from app.programme.models import Group, GroupLeader, Membership, Organisation  # noqa: F401
from app.scheduling.models import (  # noqa: F401
    CalendarFeed,
    HolidayException,
    HolidayYear,
    Meeting,
    MeetingLeader,
    Schedule,
)
from app.trends.models import GroupSignal  # noqa: F401
