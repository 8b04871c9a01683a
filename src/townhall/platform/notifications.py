"""Notification senders: how Townhall emails people, behind one small interface.

This module owns the ``NotificationSender`` protocol, the console sender (the development
default) and ``build_sender``, which picks one from the settings. The GOV.UK Notify sender lives
in ``townhall.platform.notify``. Templates are named by Townhall (``sign-in-code``); a sender maps
a name to its own template.

Nothing here writes an email address or a personalisation value (such as a sign-in code) into
the logs: the console sender prints them on the terminal for the developer, apart from the log.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Protocol, TextIO

from townhall.platform.logging import get_logger
from townhall.settings import Environment, Settings

SIGN_IN_CODE = "sign-in-code"

log = get_logger(__name__)


class NotificationFailed(Exception):
    """The sender could not hand the message on; the caller may say so and let the person retry."""


class NotificationSender(Protocol):
    """Sends one email built from a named template and its personalisation."""

    def send_email(self, to: str, template: str, personalisation: Mapping[str, str]) -> None:
        """Send ``template`` to ``to``, or raise NotificationFailed."""
        ...


class ConsoleSender:
    """Prints each email on the terminal instead of sending it: for development and the demo.

    The JSON log only says that an email was sent and from which template; the address and the
    personalisation go to ``stream`` (standard output unless told otherwise), where the developer
    reads the code they need to sign in.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send_email(self, to: str, template: str, personalisation: Mapping[str, str]) -> None:
        stream = self._stream or sys.stdout  # read at send time: test runners swap it
        values = ", ".join(f"{key}={value}" for key, value in sorted(personalisation.items()))
        stream.write(f"\n[townhall] email {template!r} to {to}: {values}\n\n")
        stream.flush()
        log.info("notification_printed", template=template, sender="console")


def build_sender(settings: Settings) -> NotificationSender | None:
    """The sender the settings choose: Notify when it has a key, else the console outside
    production, else None (an instance in production sends no email until Notify is set up).
    """
    if settings.notify_api_key is not None:
        # Imported only when used: most development instances never reach Notify.
        from townhall.platform.notify import NotifySender  # noqa: PLC0415

        return NotifySender.from_settings(settings)
    if settings.environment == Environment.PRODUCTION:
        return None
    return ConsoleSender()
