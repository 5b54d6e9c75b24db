"""Sign-in throttling: failed attempts are counted per (account, client address) and per
client address (accounts.throttle, in the database, shared by every web process).

Invariants:
- Failures from one address never lock an account out at another address: the account's
  own lock is per (account, address), so the right password from elsewhere always works.
- From one address, LOGIN_FAILURE_LIMIT failures on an account lock that account there,
  and LOGIN_ADDRESS_FAILURE_LIMIT failures on any accounts lock the address (guessing one
  password across many accounts). While locked, even the right password is refused, so a
  guess that happens to be right tells the guesser nothing.
- A success clears the (account, address) count only: signing in to one's own account
  cannot reset the count of guesses at others.
- Password reset requests are limited the same way (per entered e-mail and per address),
  counted whether or not the e-mail has an account, so no answer reveals whether it does.
- The client address is core.client_address's (X-Forwarded-For only from TRUSTED_PROXIES).
"""

from __future__ import annotations

from django.conf import settings

from accounts.throttle import address_bucket, attempt_record, attempts, attempts_clear, throttle_key


def _account_key(email: str, address: str) -> str:
    return throttle_key("signin-account", email.strip().lower(), address_bucket(address))


def _address_key(address: str) -> str:
    return throttle_key("signin-address", address_bucket(address))


def is_locked_out(email: str, address: str) -> bool:
    return (
        attempts(_account_key(email, address)) >= settings.LOGIN_FAILURE_LIMIT
        or attempts(_address_key(address)) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT
    )


def record_failure(email: str, address: str) -> bool:
    """Count one failure; True when this one locked the account (at this address) or the address."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    account = attempt_record(key=_account_key(email, address), window_seconds=window)
    by_address = attempt_record(key=_address_key(address), window_seconds=window)
    return account == settings.LOGIN_FAILURE_LIMIT or by_address == settings.LOGIN_ADDRESS_FAILURE_LIMIT


def clear_failures(email: str, address: str) -> None:
    attempts_clear(_account_key(email, address))


# --- password reset --------------------------------------------------------------------------
# Reset requests are limited as sign-in failures are, with the same limits and window: per
# entered address (whoever asks, from anywhere: no mailbox is flooded with reset e-mails) and
# per client address. Every request counts, whether or not the address has an account, so
# the answer (sent, or "too many") never tells whether it does.


def _reset_account_key(email: str) -> str:
    return throttle_key("reset-account", email.strip().lower())


def _reset_address_key(address: str) -> str:
    return throttle_key("reset-address", address_bucket(address))


def reset_is_limited(email: str, address: str) -> bool:
    return (
        attempts(_reset_account_key(email)) >= settings.LOGIN_FAILURE_LIMIT
        or attempts(_reset_address_key(address)) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT
    )


def reset_record(email: str, address: str) -> None:
    window = settings.LOGIN_LOCKOUT_SECONDS
    attempt_record(key=_reset_account_key(email), window_seconds=window)
    attempt_record(key=_reset_address_key(address), window_seconds=window)
