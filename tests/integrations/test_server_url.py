import pytest

from providers.kaseya_bms.server_url import InvalidServerUrl, normalize_server_url


def public(_host):
    return ["93.184.216.34"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("bms.kaseya.com", "https://bms.kaseya.com"),
        ("  api.bmsemea.kaseya.com  ", "https://api.bmsemea.kaseya.com"),
        ("https://api.bms.kaseya.com/", "https://api.bms.kaseya.com"),
        ("HTTPS://API.BMS.Kaseya.com", "https://api.bms.kaseya.com"),
        ("api.bms.kaseya.com:8443", "https://api.bms.kaseya.com:8443"),
    ],
)
def test_accepted_urls_are_normalised(raw, expected):
    assert normalize_server_url(raw, resolve=public) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter the BMS server"),
        ("x" * 201, "too long"),
        ("http://api.bms.kaseya.com", "Plain http"),
        ("ftp://api.bms.kaseya.com", "must start with https"),
        ("https://user:pw@api.bms.kaseya.com", "user name or password"),
        ("https://api.bms.kaseya.com/v2", "without a path"),
        ("https://api.bms.kaseya.com?x=1", "query string"),
        ("https://api.bms.kaseya.com#top", "fragment"),
        ("https://api.bms.kaseya.com:99999", "not a valid URL"),
    ],
)
def test_malformed_urls_are_refused_with_the_reason(raw, message):
    with pytest.raises(InvalidServerUrl, match=message):
        normalize_server_url(raw, resolve=public)


@pytest.mark.parametrize(
    ("raw", "addresses"),
    [
        ("127.0.0.1", None),
        ("10.1.2.3", None),
        ("192.168.0.10", None),
        ("169.254.169.254", None),
        ("[::1]", None),
        ("https://[fe80::1]", None),
        ("intranet.example.com", ["10.0.0.5"]),
        ("rebinding.example.com", ["93.184.216.34", "127.0.0.1"]),
    ],
)
def test_non_global_addresses_are_refused(raw, addresses):
    with pytest.raises(InvalidServerUrl, match="private or local address"):
        normalize_server_url(raw, resolve=lambda _h: addresses)


def test_unresolvable_host_is_refused():
    def fail(_host):
        raise OSError("no such host")

    with pytest.raises(InvalidServerUrl, match="cannot be found"):
        normalize_server_url("no-such-host.invalid", resolve=fail)


def test_allow_list_admits_plain_http_and_local_hosts():
    assert (
        normalize_server_url("http://127.0.0.1:8001", allowed_insecure_hosts=["127.0.0.1:8001"])
        == "http://127.0.0.1:8001"
    )
    with pytest.raises(InvalidServerUrl):
        normalize_server_url("http://127.0.0.1:8002", allowed_insecure_hosts=["127.0.0.1:8001"])
