"""A notifier that sends a plain-text mail over SMTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from weir.errors import DeliveryError, NotifierError
from weir.notify.base import check_timeout, first_line
from weir.sdk.context import CallbackContext


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailNotifier:
    """Mails a callback's summary to ``to``; made by :func:`email`."""

    to: tuple[str, ...]
    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0

    def __call__(self, context: CallbackContext) -> None:
        import smtplib

        message = mail_message(context, sender=self.sender, to=self.to)
        target = f"email to {', '.join(self.to)} via {self.server}"
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
                if self.starttls:
                    client.starttls()
                if self.username is not None:
                    client.login(self.username, self.password or "")
                refused = client.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{target}: could not send ({_describe(exc)})") from None
        if refused:
            raise DeliveryError(f"{target}: the server refused {', '.join(sorted(refused))}")

    @property
    def server(self) -> str:
        """The SMTP server as ``host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __repr__(self) -> str:
        return f"email({list(self.to)!r}, smtp={self.server!r})"


def email(
    to: str | list[str],
    *,
    smtp: str = "localhost:25",
    sender: str = "weir@localhost",
    starttls: bool = False,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 10.0,
) -> EmailNotifier:
    """A callback that mails what happened, as plain text, through an SMTP server.

    The subject is the callback's title (``weir: FLOW task TASK failed (run N)``); the
    body holds the error, the reason, the traceback, the try's log file and a link to the
    run in the web UI.

    Args:
        to: one address or a list of them.
        smtp: the server, as ``host:port`` (or ``host``, port 25).
        sender: the From address.
        starttls: upgrade the connection with STARTTLS before sending.
        username, password: log in with these (both or neither).
        timeout: seconds to wait for the server.

    Raises:
        NotifierError: at once, for no recipient, an address without ``@``, a bad
            ``host:port``, a username without a password (or the reverse), or a bad timeout.

    When called, it raises :class:`~weir.notify.DeliveryError` if the server cannot be
    reached or refuses the mail; the callback machinery logs it and the run is unaffected.

    Example::

        alert = notify.email(["oncall@example.com"], smtp="mail.example.com:587", starttls=True,
                                  username="weir", password=os.environ["SMTP_PASSWORD"])

        @weir.flow(on_failure=alert)
        def nightly() -> None: ...
    """
    recipients = [to] if isinstance(to, str) else to
    if not isinstance(recipients, list | tuple) or not recipients:
        raise NotifierError(f"email: to must be an address or a non-empty list of addresses, not {to!r}")
    for address in [*recipients, sender]:
        _check_address(address)
    host, port = _host_port(smtp)
    if (username is None) != (password is None):
        raise NotifierError("email: give both username and password, or neither")
    return EmailNotifier(
        to=tuple(recipients),
        host=host,
        port=port,
        sender=sender,
        starttls=bool(starttls),
        username=username,
        password=password,
        timeout=check_timeout("email", timeout),
    )


def mail_message(context: CallbackContext, *, sender: str, to: tuple[str, ...]) -> Any:
    """The :class:`email.message.EmailMessage` sent for ``context``."""
    from email.message import EmailMessage

    lines = [context.title, ""]
    if context.error:
        lines += [f"Error: {first_line(context.error)}", ""]
    if context.reason:
        lines += [f"Reason: {context.reason}", ""]
    if context.traceback:
        lines += ["Traceback:", context.traceback.rstrip(), ""]
    if context.log_path:
        lines += [f"Log: {context.log_path}"]
    if context.url:
        lines += [f"Run: {context.url}"]
    message = EmailMessage()
    message["Subject"] = context.title
    message["From"] = sender
    message["To"] = ", ".join(to)
    message.set_content("\n".join(lines).rstrip() + "\n")
    return message


def _check_address(address: Any) -> None:
    if (
        not isinstance(address, str)
        or "@" not in address
        or any(c.isspace() for c in address)
        or address.startswith("@")
        or address.endswith("@")
    ):
        raise NotifierError(f"email: {address!r} is not an email address")


def _host_port(value: Any) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``, or a bare host for port 25) as a pair."""
    bad = NotifierError(f"email: smtp must be 'host:port', for example 'localhost:25', not {value!r}")
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise bad
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest.removeprefix(":") if rest.startswith(":") else None
        if rest and port_text is None:
            raise bad
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    elif ":" not in value:
        host, port_text = value, None
    else:
        raise bad
    if not host:
        raise bad
    if port_text is None:
        return host, 25
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise bad
    return host, int(port_text)


def _describe(exc: BaseException) -> str:
    if hasattr(exc, "smtp_code") and hasattr(exc, "smtp_error"):
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
        return f"{type(exc).__name__}: {exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"
