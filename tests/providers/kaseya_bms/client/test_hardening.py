"""Hostile or broken answers and addresses (hardening items 6 and 12; newcomer item 9): every body
is capped, garbled JSON is a transient error, a page larger than asked is refused, the client
connects only to the address the Server URL check approved, and embedded private IPv6 forms and
port-less allow-list entries let nothing through."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from providers.kaseya_bms.client import BmsClient
from providers.kaseya_bms.exceptions import (
    BmsMalformedResponse,
    BmsOversizedPage,
    BmsResponseTooLarge,
    BmsTlsError,
    BmsUnavailable,
)
from providers.kaseya_bms.server_url import InvalidServerUrl, vet_server_url

from .conftest import PASSWORD
from .stub import ACCOUNTS, Reply, ok

# --- item 6: oversized or malformed answers ---------------------------------------------------------


def test_hardening_6_an_answer_over_the_byte_cap_is_refused(stub, make_client):
    stub.on("GET", ACCOUNTS, ok([{"id": i, "accountName": "x" * 500} for i in range(50)], total=50))
    with pytest.raises(BmsResponseTooLarge, match="more than 4096 bytes"):
        make_client(max_response_bytes=4096).list_accounts(1, 100)
    assert make_client().list_accounts(1, 100).items[49].id == 49  # the same answer under the default cap


def test_hardening_6_an_answer_without_a_length_is_cut_at_the_cap(stub, make_client):
    body = b'{"success": true, "result": [' + b'{"id": 1},' * 2000 + b'{"id": 2}]}'

    def chunked(_seen):
        return Reply(200, body, {"Content-Type": "application/json"})

    stub.on("GET", ACCOUNTS, chunked)
    with pytest.raises(BmsResponseTooLarge):
        make_client(max_response_bytes=1024).list_accounts(1, 100)


def test_hardening_6_garbled_json_is_a_transient_error_and_retried(stub, make_client, sleeps):
    cut_short = Reply(200, b'{"success": true, "result": [{"id": 1}, {"id"', {"Content-Type": "application/json"})
    stub.on("GET", ACCOUNTS, cut_short, ok([{"id": 1}], total=1))
    page = make_client().list_accounts(1, 100)
    assert [a.id for a in page.items] == [1] and len(stub.calls(ACCOUNTS)) == 2
    stub.on("GET", ACCOUNTS, cut_short)
    with pytest.raises(BmsMalformedResponse) as raised:
        make_client(max_attempts=2).list_accounts(1, 100)
    assert raised.value.transient


def test_hardening_6_a_page_larger_than_asked_is_refused(stub, make_client):
    stub.on("GET", ACCOUNTS, ok([{"id": i} for i in range(1, 12)], total=11))
    with pytest.raises(BmsOversizedPage, match="11 records for a page of 10"):
        make_client().list_accounts(1, 10)


def test_hardening_6_a_dropped_connection_mid_body_is_transient(stub, make_client):
    stub.on("GET", ACCOUNTS, Reply(drop=True))
    with pytest.raises(BmsUnavailable):
        make_client(max_attempts=1).list_accounts(1, 100)


# --- item 12: SSRF leftovers --------------------------------------------------------------------------


def test_hardening_12_the_client_connects_to_the_vetted_address_not_a_new_lookup(stub, make_client):
    stub.on("GET", ACCOUNTS, ok([], total=0))
    # The name does not resolve at all: the request can only reach the stub through the pinned address.
    client = make_client(url=f"http://bms.example.invalid:{stub.port}", pinned_address="127.0.0.1")
    client.list_accounts(1, 1)
    assert stub.calls(ACCOUNTS)[0].headers["Host"] == f"bms.example.invalid:{stub.port}"
    twin = client.sibling()
    twin._token = None
    twin.list_accounts(1, 1)  # a sibling keeps the pinned address
    assert len(stub.calls(ACCOUNTS)) == 2


@pytest.fixture
def tls_server(tmp_path):
    """An https server on 127.0.0.1 whose certificate names bms.example.test (and the CA file that trusts it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bms.example.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("bms.example.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # the sign-in: enough to prove the TLS handshake and the Host header
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b'{"success": true, "result": {"accessToken": "t", "refreshToken": "r", "expiresOn": "2999-01-01"}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Seen-Host", self.headers["Host"])
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], str(cert_file)
    server.shutdown()


def _tls_client(url: str, ca_file: str) -> BmsClient:
    client = BmsClient(url, "Demo MSP", "api@demo.local", PASSWORD, pinned_address="127.0.0.1", max_attempts=1)
    client._session.verify = ca_file
    return client


def test_hardening_12_tls_is_verified_against_the_host_name_while_connecting_to_the_address(tls_server, monkeypatch):
    port, ca_file = tls_server
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # they would override the session's CA file
        monkeypatch.delenv(name, raising=False)
    _tls_client(f"https://bms.example.test:{port}", ca_file).authenticate()  # the certificate names the host
    with pytest.raises(BmsTlsError):
        _tls_client(f"https://other.example.test:{port}", ca_file).authenticate()  # and only that host


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::c0a8:101",  # local-use NAT64 of 192.168.1.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "::ffff:169.254.169.254",  # IPv4-mapped link-local (cloud metadata)
    ],
)
def test_hardening_12_embedded_private_ipv6_forms_are_refused(address):
    with pytest.raises(InvalidServerUrl, match="private or local address"):
        vet_server_url("api.bms.example.com", resolve=lambda host: [address])


def test_hardening_12_embedded_public_ipv6_forms_still_work():
    # An IPv6-only network reaches a public IPv4 server through NAT64: that must keep working.
    vetted = vet_server_url("api.bms.example.com", resolve=lambda host: ["64:ff9b::808:808"])
    assert vetted.address == "64:ff9b::808:808" and vetted.url == "https://api.bms.example.com"


def test_hardening_12_an_allow_list_entry_without_a_port_allows_only_the_default_port():
    allowed = ["bms.lan"]
    assert vet_server_url("http://bms.lan", allowed_insecure_hosts=allowed).url == "http://bms.lan"
    assert vet_server_url("https://bms.lan:443", allowed_insecure_hosts=allowed).address is None
    with pytest.raises(InvalidServerUrl):
        vet_server_url("http://bms.lan:6379", allowed_insecure_hosts=allowed)
    assert vet_server_url("http://bms.lan:8001", allowed_insecure_hosts=["bms.lan:8001"]).url == "http://bms.lan:8001"
    assert vet_server_url("http://bms.lan:6379", allowed_insecure_hosts=["bms.lan:*"]).address is None  # explicit


def test_newcomer_9_a_server_url_that_is_no_url_says_so_with_an_example():
    with pytest.raises(InvalidServerUrl) as raised:
        vet_server_url("not a url", resolve=lambda host: ["8.8.8.8"])
    assert "is not a valid server address" in str(raised.value) and "api.bms.kaseya.com" in str(raised.value)
    assert "DNS" not in str(raised.value)
