"""The model clients' TLS context: made once per process and shared by every session's client
(loading the CA bundle per session cost ~20 ms and fragmented a long-running server's heap),
and still honouring SSL_CERT_FILE as httpx does."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import pytest

from lever.models.http import HttpTransport, shared_ssl_context


@pytest.fixture(autouse=True)
def _no_ssl_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)


def pool_context(transport: HttpTransport) -> ssl.SSLContext:
    pool = transport._client._transport._pool  # type: ignore[attr-defined]
    context = pool._ssl_context
    assert isinstance(context, ssl.SSLContext)
    return context


def test_every_transport_shares_one_verifying_context() -> None:
    first = HttpTransport("https://models.example/v1")
    second = HttpTransport("http://127.0.0.1:9/v1")
    assert pool_context(first) is pool_context(second) is shared_ssl_context()
    context = shared_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 50  # the whole bundle


def test_ssl_cert_file_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = Path(certifi.where()).read_text()
    one_cert = bundle[: bundle.index("-----END CERTIFICATE-----") + 25] + "\n"
    (tmp_path / "one.pem").write_text(one_cert[one_cert.index("-----BEGIN") :])
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "one.pem"))
    own = pool_context(HttpTransport("https://models.example/v1"))
    assert own.cert_store_stats()["x509_ca"] == 1
    monkeypatch.delenv("SSL_CERT_FILE")
    assert shared_ssl_context().cert_store_stats()["x509_ca"] > 50
