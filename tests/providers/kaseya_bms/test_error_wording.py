"""Issue 14 item 17: messages built from BMS's error text end each sentence once ("Invalid
username or password. Check Settings", never "password Check" nor "Co..")."""

import pytest

from core.text import sentence
from integrations.base import Activity
from integrations.models import Integration
from integrations.registry import installation_of
from providers.kaseya_bms import exceptions as bms_errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Invalid username or password", "Invalid username or password."),
        ("Demo client linked to Ironwood Cove Dental Co.", "Demo client linked to Ironwood Cove Dental Co."),
        ("Is it prorated?", "Is it prorated?"),
        ("  trailing space  ", "trailing space."),
        ("", ""),
    ],
)
def test_sentence_adds_one_period_at_most(text, expected):
    assert sentence(text) == expected


@pytest.fixture
def installation():
    return installation_of(Integration(provider_key="kaseya-bms", config={}))


def test_a_failed_sign_in_during_a_sync_reads_as_two_sentences(installation):
    exc = bms_errors.BmsAuthenticationError(
        "Invalid username or password", reason=bms_errors.AuthFailureReason.WRONG_CREDENTIALS
    )
    message = installation.error_message(exc, doing=Activity.SYNC)
    assert message == "BMS refused the sign-in: Invalid username or password. Check Settings, then run Test Connection."
    sign_in = installation.error_message(exc, doing=Activity.SIGN_IN)
    assert sign_in == "Invalid username or password. Check Username and Password of the API Employee user."


def test_an_error_text_that_ends_with_a_period_gets_no_second_one(installation):
    exc = bms_errors.BmsRequestRejected("The account Dental Co.", field="AccountId")
    message = installation.error_message(exc, doing=Activity.SERVICE_TICKET)
    assert message == "BMS rejected the ticket (AccountId): The account Dental Co. Check Service Ticket Configuration."
    assert ".." not in installation.error_message(
        bms_errors.BmsPermissionDenied("Access denied."), doing=Activity.SERVICE_TICKET
    )
