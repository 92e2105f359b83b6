"""Email over SMTP (smtplib): plain connection, STARTTLS, or TLS from the start; optional login.

One connection carries a whole batch. A server that cannot be reached, refuses the login or drops
the connection makes every message of the batch a transient failure (the dispatcher retries with
backoff); a 5xx answer about one message (recipient or content refused) is permanent for it.
"""

from __future__ import annotations

import email.policy
import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from smartcron.alerts.channels import EMAIL_CHANNEL_ID, DeliveryResult, OutgoingMessage
from smartcron.errors import NotifierError

if TYPE_CHECKING:
    from smartcron.config import Settings


MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)
"""Headers unfolded up to RFC 5322's hard limit: the default folding at 78 puts a long subject on a
continuation line, which some clients then show with a leading space."""


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {' '.join(text.split())}"
    return " ".join(str(exc).split()) or type(exc).__name__


class EmailChannel:
    addressed = True

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        tls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self._password = password
        self.starttls = starttls
        self.tls = tls
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> EmailChannel:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.alert_email_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            tls=settings.smtp_tls,
            timeout=settings.smtp_timeout,
        )

    @property
    def id(self) -> str:
        return EMAIL_CHANNEL_ID

    @property
    def label(self) -> str:
        security = " (TLS)" if self.tls else " (STARTTLS)" if self.starttls else ""
        login = f" as {self.username}" if self.username else ""
        return f"email via {self.host}:{self.port}{security}{login}"

    def deliver(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        if not messages:
            return []
        try:
            connection = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            error = NotifierError(f"mail server {self.host}:{self.port}: {_one_line(exc)}")
            return [DeliveryResult(error) for _ in messages]
        results: list[DeliveryResult] = []
        try:
            for message in messages:
                try:
                    results.append(self._send(connection, message))
                except (OSError, smtplib.SMTPServerDisconnected) as exc:
                    # The connection is gone: this message and the rest of the batch wait for a retry.
                    where = f"{self.host}:{self.port}"
                    error = NotifierError(f"mail server {where} dropped the connection: {_one_line(exc)}")
                    results += [DeliveryResult(error)] * (len(messages) - len(results))
                    break
        finally:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                connection.close()
        return results

    def _connect(self) -> smtplib.SMTP:
        local_name = socket.gethostname()  # smtplib's default (getfqdn) may wait on DNS
        connection: smtplib.SMTP
        if self.tls:
            context = ssl.create_default_context()
            connection = smtplib.SMTP_SSL(
                self.host, self.port, local_hostname=local_name, timeout=self.timeout, context=context
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, local_hostname=local_name, timeout=self.timeout)
        try:
            if self.starttls and not self.tls:
                connection.starttls(context=ssl.create_default_context())
            if self.username:
                connection.login(self.username, self._password)
        except BaseException:
            connection.close()
            raise
        return connection

    def _send(self, connection: smtplib.SMTP, message: OutgoingMessage) -> DeliveryResult:
        if not message.recipients:
            return DeliveryResult(NotifierError("no recipients", permanent=True))
        try:
            mail = self.compose(message)
        except ValueError as exc:  # an address or header that cannot be put in a mail
            return DeliveryResult(NotifierError(f"cannot compose the mail: {_one_line(exc)}", permanent=True))
        try:
            refused = connection.send_message(mail, from_addr=self.sender, to_addrs=list(message.recipients))
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            permanent = bool(codes) and all(code >= 500 for code in codes)
            refused_list = ", ".join(f"{addr} ({code})" for addr, (code, _t) in exc.recipients.items())
            return DeliveryResult(NotifierError(f"all recipients refused: {refused_list}", permanent=permanent))
        except smtplib.SMTPResponseException as exc:
            return DeliveryResult(NotifierError(f"mail refused: {_one_line(exc)}", permanent=exc.smtp_code >= 500))
        except smtplib.SMTPException as exc:  # e.g. the server cannot take this message at all
            return DeliveryResult(NotifierError(f"mail refused: {_one_line(exc)}", permanent=True))
        if refused:
            note = "refused: " + ", ".join(f"{addr} ({code})" for addr, (code, _t) in refused.items())
            return DeliveryResult(note=note)
        return DeliveryResult()

    def compose(self, message: OutgoingMessage) -> EmailMessage:
        mail = EmailMessage(policy=MAIL_POLICY)
        mail["From"] = self.sender
        mail["To"] = ", ".join(message.recipients)
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        domain = self.sender.rpartition("@")[2] or "smartcron.invalid"
        mail["Message-ID"] = make_msgid("smartcron", domain=domain)
        # RFC 3834: tells vacation responders and ticket systems not to answer a machine.
        mail["Auto-Submitted"] = "auto-generated"
        if message.reference:
            mail["X-Smartcron-Reference"] = message.reference
        # Quoted-printable keeps non-ASCII output readable through servers without 8BITMIME.
        encoding = None if message.body.isascii() else "quoted-printable"
        mail.set_content(message.body, subtype="plain", charset="utf-8", cte=encoding)
        return mail
