"""Pure parts of the Azure datastores: addresses, URL sources, redaction (no server)."""

from __future__ import annotations

import logging

import pytest

from dataferry.data.url_credentials import split_azure_url
from dataferry.errors import DatastoreError
from dataferry.storage.azure import RedactSignatures, account_url, connection_string
from dataferry.storage.secrets import redact


@pytest.mark.parametrize(
    ("protocol", "endpoint", "expected"),
    [
        (None, None, "https://acct.blob.core.windows.net"),
        ("https", "core.chinacloudapi.cn", "https://acct.blob.core.chinacloudapi.cn"),
        ("http", "127.0.0.1:10000", "http://127.0.0.1:10000/acct"),
        ("http", "localhost:10000", "http://localhost:10000/acct"),
        ("HTTP", "[::1]:10000", "http://[::1]:10000/acct"),
        ("http", "127.0.0.1", "http://127.0.0.1/acct"),
        (None, "http://127.0.0.1:10000/acct/", "http://127.0.0.1:10000/acct"),
        ("https", "https://custom.example/acct", "https://custom.example/acct"),
    ],
)
def test_account_url(protocol: str | None, endpoint: str | None, expected: str) -> None:
    options = {"account_name": "acct", "protocol": protocol, "endpoint": endpoint}
    assert account_url(options) == expected


def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(DatastoreError, match="protocol 'ftp' is not supported"):
        account_url({"account_name": "acct", "protocol": "ftp"})


def test_connection_strings() -> None:
    options = {"account_name": "acct", "protocol": "http", "endpoint": "127.0.0.1:1"}
    assert connection_string(options, {"account_key": "K"}) == (
        "DefaultEndpointsProtocol=http;BlobEndpoint=http://127.0.0.1:1/acct;"
        "AccountName=acct;AccountKey=K;"
    )
    assert connection_string(options, {"sas_token": "?sv=1&sig=S"}) == (
        "BlobEndpoint=http://127.0.0.1:1/acct;AccountName=acct;"
        "SharedAccessSignature=sv=1&sig=S;"
    )
    assert connection_string(options, {"connection_string": "given"}) == "given"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("wasbs://box@acct.blob.core.windows.net/a/b.csv", ("acct", "box", "a/b.csv")),
        ("wasb://box@acct.blob.core.windows.net/a", ("acct", "box", "a")),
        ("abfss://fs@acct.dfs.core.windows.net/x/*.csv", ("acct", "fs", "x/*.csv")),
        ("abfs://fs/x", (None, "fs", "x")),
        ("az://box/", (None, "box", "")),
        ("https://acct.blob.core.windows.net/box/a", None),
        ("s3://bucket/a", None),
        ("az:///nohost", None),
    ],
)
def test_split_azure_url(
    url: str, expected: tuple[str | None, str, str] | None
) -> None:
    assert split_azure_url(url) == expected


def test_redact_replaces_every_form_of_a_secret() -> None:
    secret = "a/b+c=="
    text = f"key {secret} quoted a%2Fb%2Bc%3D%3D path-quoted a/b%2Bc%3D%3D"
    assert redact(text, {"account_key": secret}) == (
        "key *** quoted *** path-quoted ***"
    )
    assert redact("nothing here", ["", "x"]) == "nothing here"


def test_request_log_lines_lose_their_signature(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("dataferry.test.requests")
    logger.addFilter(RedactSignatures())
    with caplog.at_level(logging.DEBUG, logger="dataferry.test.requests"):
        logger.debug('"GET /c?%s HTTP/1.1" 200', "sp=r&sig=SECRET%3D&sv=1")
    assert caplog.messages == ['"GET /c?sp=r&sig=REDACTED&sv=1 HTTP/1.1" 200']
