"""Every mail the site sends, in the reader's language and time zone. A leaf module.

A mail is a subject template and a body template (plain text), rendered inside the
person's saved language and zone (accounts.locale): a worker sends most of them, long after
the request whose language it could have read.
"""

from __future__ import annotations

from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string

from accounts.locale import locale_override, user_language, user_time_zone
from accounts.models import User


def mail_render(
    *, to: str, language: str, time_zone: str, subject_template: str, body_template: str, context: dict
) -> EmailMessage:
    """One mail to an address, written in `language` with dates in `time_zone`."""
    with locale_override(language=language, time_zone=time_zone):
        # A subject is one line: a template's trailing newline would fold the header.
        subject = " ".join(render_to_string(subject_template, context).split())
        body = render_to_string(body_template, context)
    return EmailMessage(subject=subject, body=body, to=[to])


def mail_render_for_user(*, user: User, subject_template: str, body_template: str, context: dict) -> EmailMessage:
    return mail_render(
        to=user.email, language=user_language(user=user), time_zone=user_time_zone(user=user),
        subject_template=subject_template, body_template=body_template, context={"user": user, **context},
    )


def mail_user(*, user: User, subject_template: str, body_template: str, context: dict) -> None:
    mail_render_for_user(
        user=user, subject_template=subject_template, body_template=body_template, context=context
    ).send()


def mail_send_all(messages: list[EmailMessage]) -> None:
    """Several mails over one connection to the mail server."""
    with get_connection() as connection:
        connection.send_messages(messages)
