"""Why a sign-in was refused: what the portal tells the person, and nothing it must not.

These are not HTTP problems: a refused sign-in is an answer on the sign-in page itself (an error
summary and a message by the field), so they live apart from ``townhall.errors``. Each carries a
message written for the person signing in.

    SignInRefused
    ├── WrongCredentials        the email address or the password is wrong (never says which)
    ├── AccountLocked           too many wrong passwords: locked until ``until``
    ├── AccountDisabled         the password was right but the account is disabled
    ├── SignInThrottled         too many attempts from one client address: retry in ``seconds``
    ├── TooManyCodes            too many codes sent to one email address this hour
    ├── WrongCode               the code is wrong; ``remaining`` guesses are left
    ├── CodeExpired             the code is used up, expired or unknown: ask for a new one
    └── CodeNotSent             the email could not be sent (the notification service failed)
"""

from __future__ import annotations

from datetime import datetime


class SignInRefused(Exception):
    """Base of every refusal; ``message`` is what the sign-in page says."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WrongCredentials(SignInRefused):
    """The email address or password is wrong."""

    def __init__(self) -> None:
        super().__init__("Enter a correct email address and password")


class AccountLocked(SignInRefused):
    """Too many wrong passwords in a row."""

    def __init__(self, until: datetime) -> None:
        super().__init__(
            "Your account is locked because the password was entered wrongly too many times. "
            f"Try again after {until:%H:%M} (UTC) on {until:%-d %B %Y}, "
            "or ask an administrator to help."
        )
        self.until = until


class AccountDisabled(SignInRefused):
    """The person may no longer sign in."""

    def __init__(self) -> None:
        super().__init__("Your account has been disabled. Ask an administrator if this is wrong.")


class SignInThrottled(SignInRefused):
    """Too many attempts from one client address."""

    def __init__(self, seconds: int) -> None:
        super().__init__(
            f"There have been too many attempts to sign in from your network. "
            f"Wait {seconds} seconds and try again."
        )
        self.seconds = seconds


class TooManyCodes(SignInRefused):
    """Too many codes were sent to one address this hour."""

    def __init__(self) -> None:
        super().__init__(
            "We have sent too many codes to this email address in the last hour. "
            "Use the latest code we sent, or try again later."
        )


class WrongCode(SignInRefused):
    """The code does not match."""

    def __init__(self, remaining: int) -> None:
        guesses = "1 more try" if remaining == 1 else f"{remaining} more tries"
        super().__init__(f"The code is not correct. Check the email and try again: {guesses}.")
        self.remaining = remaining


class CodeExpired(SignInRefused):
    """The code cannot be used any more."""

    def __init__(self, reason: str = "The code has expired or has been used.") -> None:
        super().__init__(f"{reason} Ask for a new code.")


class CodeNotSent(SignInRefused):
    """The notification service did not take the email."""

    def __init__(self) -> None:
        super().__init__("We could not send the email just now. Try again in a few minutes.")
