"""The SMTP channel against aiosmtpd: STARTTLS, TLS from the start, login, and what failures mean."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from smartcron.alerts.channels import OutgoingMessage
from smartcron.alerts.channels.email import EmailChannel
from tests.alerts.conftest import MailHandler, free_port

MESSAGE = OutgoingMessage("[smartcron TEST] hello", "body\n", ("ops@example.com",))


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 that the client trusts through SSL_CERT_FILE."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"cron", b"s3cret")
    return AuthResult(success=ok, handled=False)


@contextmanager
def serving(handler: MailHandler, port: int, **options: Any) -> Iterator[None]:
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=check_login, **options)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


def test_starttls_and_login_deliver_over_an_encrypted_session(certificate: tuple[Path, Path]) -> None:
    handler, port = MailHandler(), free_port()
    with serving(handler, port, tls_context=server_context(certificate), require_starttls=True, auth_require_tls=True):
        channel = EmailChannel(
            host="127.0.0.1", port=port, sender="cron@example.com", username="cron", password="s3cret", starttls=True
        )
        [result] = channel.deliver([MESSAGE])
    assert result.ok, result.error
    assert [r.subject for r in handler.received] == ["[smartcron TEST] hello"]


def test_tls_from_the_start_delivers(certificate: tuple[Path, Path]) -> None:
    handler, port = MailHandler(), free_port()
    with serving(handler, port, ssl_context=server_context(certificate), auth_require_tls=False):
        channel = EmailChannel(host="127.0.0.1", port=port, sender="cron@example.com", tls=True)
        [result] = channel.deliver([MESSAGE])
    assert result.ok, result.error
    assert len(handler.received) == 1


def test_a_refused_login_is_a_channel_problem_worth_retrying() -> None:
    handler, port = MailHandler(), free_port()
    with serving(handler, port, auth_require_tls=False):
        channel = EmailChannel(
            host="127.0.0.1", port=port, sender="cron@example.com", username="cron", password="wrong"
        )
        results = channel.deliver([MESSAGE, MESSAGE])
    assert [r.ok for r in results] == [False, False]
    error = results[0].error
    assert error is not None and not error.permanent and "535" in error.message
    assert handler.received == []


def test_one_refused_recipient_among_several_is_noted_and_the_rest_get_the_mail() -> None:
    handler, port = MailHandler(refuse={"gone@example.com"}), free_port()
    with serving(handler, port, auth_require_tls=False):
        channel = EmailChannel(host="127.0.0.1", port=port, sender="cron@example.com")
        [result] = channel.deliver([OutgoingMessage("s", "b", ("gone@example.com", "ops@example.com"))])
    assert result.ok and result.note == "refused: gone@example.com (550)"
    assert handler.received[0].recipients == ["ops@example.com"]


def test_an_unreachable_server_fails_every_message_of_the_batch_for_a_retry() -> None:
    channel = EmailChannel(host="127.0.0.1", port=free_port(), sender="cron@example.com", timeout=2)
    results = channel.deliver([MESSAGE] * 3)
    assert all(r.error is not None and not r.error.permanent for r in results)
    assert "Connection refused" in (results[0].error.message if results[0].error else "")


def test_a_mail_lists_its_headers_and_marks_itself_automatic() -> None:
    channel = EmailChannel(host="localhost", port=25, sender="cron@example.com")
    mail = channel.compose(
        OutgoingMessage("[smartcron CRITICAL] x " + "y" * 120, "né\n", ("a@b.c", "d@e.f"), "alert-7")
    )
    assert mail["To"] == "a@b.c, d@e.f" and mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Smartcron-Reference"] == "alert-7" and mail["Message-ID"].endswith("@example.com>")
    assert b"\r\nSubject: [smartcron CRITICAL] x yyy" in mail.as_bytes()  # one line: not folded
