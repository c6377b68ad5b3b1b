"""Domain errors shared by every feature; turned into messages by one handler per surface."""


class DomainError(Exception):
    """A user action broke a rule; `message` is already translated for the current user."""

    status_code = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    """The acting user may not do this."""

    status_code = 403


class Conflict(DomainError):
    """The action clashes with the current state (a duplicate, a clash in time)."""

    status_code = 409
