"""A real SMTP server on loopback (aiosmtpd) for the tests that send mail over SMTP: `Inbox` keeps (or refuses)
what arrives, `smtp_to(app, monkeypatch, inbox)` starts a server and points the app's mail at it."""

from __future__ import annotations

from aiosmtpd.controller import Controller

from tests.loopback import free_port


class Inbox:
    """An aiosmtpd handler that keeps every message, or refuses every one with `refuse` (an SMTP reply)."""

    def __init__(self, refuse: str | None = None):
        self.envelopes = []
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def smtp_to(app, monkeypatch, inbox: Inbox, **controller_kw) -> Controller:
    """Start an SMTP server on a free loopback port handing mail to `inbox`, and send the app's mail there (the
    settings come back when the test ends). Returns the server: stop it when done."""
    port = free_port()  # aiosmtpd's Controller(port=0) fails its own start-up check, so pick a port first
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **controller_kw)
    controller.start()
    settings = {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
                "MAIL_USE_TLS": False, "MAIL_USE_SSL": False, "MAIL_USERNAME": None, "MAIL_PASSWORD": None}
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    # Flask-Mailman reads the settings once, in init_app(), into app.extensions["mailman"]:
    # changing app.config alone would leave the locmem backend in place.
    state = app.extensions["mailman"]
    for attribute, value in {"backend": "smtp", "server": "127.0.0.1", "port": port, "use_tls": False,
                             "use_ssl": False, "username": None, "password": None, "timeout": 10}.items():
        monkeypatch.setattr(state, attribute, value)
    return controller
