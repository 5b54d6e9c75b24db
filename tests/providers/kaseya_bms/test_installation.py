"""The Kaseya BMS installation's invoice PDFs (hardening item 10): an attachment stands for an
invoice only when BMS says it is attached to that very invoice, in the configured module."""

from urllib.parse import urlsplit

import pytest

from billing.models import Invoice
from integrations.registry import get_provider, installation_of
from integrations.services import integration_save_settings
from tests.billing.factories import InvoiceFactory
from tests.providers.kaseya_bms.client.stub import Reply, StubServer, ok

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4 the invoice\n%%EOF"


@pytest.fixture
def stub():
    server = StubServer()
    yield server
    server.close()


@pytest.fixture
def installation(stub, settings, admin_user):
    settings.BMS_ALLOWED_INSECURE_HOSTS = [urlsplit(stub.url).netloc]
    integration = integration_save_settings(
        provider=get_provider("kaseya-bms"),
        actor=admin_user,
        cleaned_data={"company_name": "Demo MSP", "username": "api", "password": "pw", "server_url": stub.url},
    )
    return installation_of(integration)


def _attachment(attachment_id: int, module_id: int, object_id: int) -> dict:
    return {
        "id": attachment_id,
        "moduleId": module_id,
        "objectId": object_id,
        "originalFileName": f"invoice-{object_id}.pdf",
        "fileType": "application/pdf",
        "createdOn": f"2026-01-0{attachment_id}T00:00:00Z",
    }


def _serve(stub, invoice: Invoice, module_id: int, attachments: list[dict]) -> None:
    stub.on("GET", f"/v2/system/attachments/{module_id}/{invoice.bms_id}", ok(attachments, total=len(attachments)))
    for item in attachments:
        path = f"/v2/system/attachments/{module_id}/{invoice.bms_id}/{item['id']}/download"
        stub.on("GET", path, Reply(200, PDF, {"Content-Type": "application/pdf"}))


def test_hardening_10_an_attachment_of_another_invoice_is_refused(stub, installation, settings):
    invoice = InvoiceFactory()
    # BMS (or whatever answers) lists a newer PDF that belongs to another invoice, and one of another module.
    _serve(
        stub,
        invoice,
        9,
        [_attachment(1, 9, invoice.bms_id), _attachment(2, 9, 4242), _attachment(3, 7, invoice.bms_id)],
    )
    assert installation.invoice_pdf(invoice, max_bytes=1024) == PDF
    downloads = [s.path for s in stub.seen if s.path.endswith("/download")]
    assert downloads == [f"/v2/system/attachments/9/{invoice.bms_id}/1/download"]  # the invoice's own, not the newest


def test_hardening_10_only_foreign_attachments_mean_no_pdf(stub, installation):
    invoice = InvoiceFactory()
    _serve(stub, invoice, 9, [_attachment(2, 9, 4242)])
    assert installation.invoice_pdf(invoice, max_bytes=1024) is None
    assert not [s for s in stub.seen if s.path.endswith("/download")]


def test_hardening_10_the_invoice_module_id_is_a_setting(stub, installation, settings):
    settings.BMS_INVOICE_ATTACHMENT_MODULE_ID = 31
    invoice = InvoiceFactory()
    _serve(stub, invoice, 31, [_attachment(1, 31, invoice.bms_id)])
    assert installation.invoice_pdf(invoice, max_bytes=1024) == PDF
