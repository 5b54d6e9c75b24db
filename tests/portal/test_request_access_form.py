"""The request-access form marks its optional fields alike (issue 14, item 17)."""

import re

from django.test import Client
from django.urls import reverse


def test_both_optional_fields_say_optional_and_the_required_ones_do_not(db):
    page = Client().get(reverse("portal:request-access")).content.decode()
    labels = {
        name: " ".join(re.sub(r"<[^>]+>", "", text).split())
        for name, text in re.findall(r'<label\s+for="id_(\w+)"[^>]*>(.*?)</label>', page, flags=re.S)
    }
    assert labels["company"].startswith("Company (optional)")
    assert labels["message"].startswith("Message (optional)")
    assert "optional" not in labels["full_name"] and "optional" not in labels["email"]
