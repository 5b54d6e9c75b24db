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


def record_failure(email: str, address: str) -> None:
    window = settings.LOGIN_LOCKOUT_SECONDS
    attempt_record(key=_account_key(email, address), window_seconds=window)
    attempt_record(key=_address_key(address), window_seconds=window)


def clear_failures(email: str, address: str) -> None:
    attempts_clear(_account_key(email, address))
