"""Download my data: one zip of everything of a person's that Likeness keeps and they can use.

Every portrait in full size with its parameters, each avatar's LoRA with a README on loading it
into diffusers, the orders and refunds, the consent and terms records, the style requests the
person wrote (with their reference images) and their votes. Uploaded photos are not in it: they
are deleted once the avatar is trained (and the zip says so). The READMEs are written in the
language and time zone active for the caller (the request's: the person's own).
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from datetime import datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from accounts.consent import photo_consents
from accounts.models import User
from accounts.terms import terms_acceptances
from avatars.models import Avatar, Portrait
from orders.models import Order
from styles.selectors import template_request_list_by_author, template_vote_list_by_user

# Files kept in memory up to this size, then on disk: a person with many portraits makes a big zip.
SPOOL_BYTES = 32 * 1024 * 1024
LORA_NAME = "avatar.safetensors"


def _json(data) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False) + "\n"


def _avatar_folder(avatar: Avatar) -> str:
    return f"avatars/{slugify(avatar.name) or 'avatar'}-{avatar.public_id.hex[:8]}"


def _avatar_record(avatar: Avatar) -> dict:
    return {
        "id": avatar.public_id,
        "name": avatar.name,
        "status": avatar.status,
        "subject_class": avatar.subject_class,
        "trigger_words": f"{avatar.identity_token} {avatar.subject_class}",
        "engine": avatar.engine_label,
        "created_at": avatar.created_at,
        "trained_at": avatar.trained_at,
        "photos_deleted_at": avatar.photos_deleted_at,
        "refunded_at": avatar.refunded_at,
        "portraits": avatar.portraits.count(),
    }


def _portrait_record(portrait: Portrait) -> dict:
    return {
        "id": portrait.public_id,
        "style": {"slug": portrait.template.slug, "title": portrait.template.title},
        "version": portrait.version,
        "take": portrait.take,
        "take_number": portrait.take_number,
        "favourite": portrait.is_favourite,
        "more_like_me_of": portrait.more_like_me_of.public_id if portrait.more_like_me_of else None,
        "width": portrait.width,
        "height": portrait.height,
        "seed": portrait.seed,
        "likeness_score": portrait.likeness_score,
        "engine": portrait.engine_label,
        "parameters": portrait.parameters,
        "created_at": portrait.created_at,
        # Where the person agreed that this portrait be shown on its style's page.
        "shown_as_style_example": [
            {"consent": example.consent_note, "consent_recorded_at": example.consent_recorded_at}
            for example in portrait.style_examples.all()
        ],
    }


def lora_readme(*, avatar: Avatar) -> str:
    """How to load this avatar's LoRA into diffusers, for the family it was trained in."""
    # The family it was trained for; an avatar trained before that was recorded, the configured one.
    from avatars.engine.families import DEFAULT_FAMILY, family

    model_family = family(avatar.engine_family or settings.LIKENESS_MODEL_FAMILY or DEFAULT_FAMILY.name)
    is_tiny = settings.LIKENESS_BASE_MODEL == "tiny"
    return render_to_string("accounts/export_lora_readme.md", {
        "avatar": avatar,
        "lora_name": LORA_NAME,
        "identity": f"{avatar.identity_token} {avatar.subject_class}",
        "family": model_family.name,
        "family_label": model_family.display_name,
        "pipeline_class": model_family.pipeline_class_name,
        "is_default_family": model_family is DEFAULT_FAMILY,
        "takes_negative_prompt": model_family.takes_negative_prompt,
        "steps": model_family.default_steps,
        "guidance_scale": model_family.default_guidance,
        # The public checkpoint portraits are rendered with (a LoRA trained on a family's base
        # checkpoint loads into its render checkpoint too).
        "base_model_example": (
            model_family.render_checkpoint if is_tiny else (avatar.engine_label or settings.LIKENESS_BASE_MODEL)
        ),
        "is_tiny": is_tiny,
    })


def _orders_record(user: User) -> list[dict]:
    orders = Order.objects.filter(user=user).select_related("avatar").prefetch_related("refunds").order_by("created_at")
    return [
        {
            "id": order.public_id,
            "what": order.get_product_display(),
            "avatar": order.avatar.name if order.avatar else None,
            "amount_minor": order.amount,
            "currency": order.currency,
            "status": order.status,
            "created_at": order.created_at,
            "paid_at": order.paid_at,
            "paid_via": order.paid_via,
            "payment_reference": order.stripe_payment_intent_id,
            "refunds": [
                {
                    "amount_minor": refund.amount,
                    "currency": refund.currency,
                    "reason": refund.reason,
                    "status": refund.status,
                    "created_at": refund.created_at,
                }
                for refund in order.refunds.all()
            ],
        }
        for order in orders
    ]


def _style_request_image_name(request) -> str:
    return f"style_requests/{request.pk}-reference.png"


def _style_requests_record(requests) -> list[dict]:
    return [
        {
            "title": request.title,
            "description": request.description,
            "status": request.status,
            "votes": request.vote_count,
            "became_style": request.template.slug if request.template else None,
            "reference_image": _style_request_image_name(request) if request.reference_image else None,
            "created_at": request.created_at,
        }
        for request in requests
    ]


def _style_votes_record(user: User) -> list[dict]:
    return [
        {"request": vote.request.title, "request_status": vote.request.status, "voted_at": vote.created_at}
        for vote in template_vote_list_by_user(user=user)
    ]


def _write_style_request_images(archive: zipfile.ZipFile, requests) -> None:
    for request in requests:
        if not request.reference_image:
            continue
        try:
            with request.reference_image.open("rb") as image:
                archive.writestr(_style_request_image_name(request), image.read(), compress_type=zipfile.ZIP_STORED)
        except FileNotFoundError:
            continue


def _records(user: User, now: datetime) -> dict[str, dict | list]:
    return {
        "account.json": {
            "email": user.email,
            "joined_at": user.date_joined,
            "email_verified_at": user.email_verified_at,
            "exported_at": now,
        },
        "orders.json": _orders_record(user),
        "terms_acceptances.json": [
            {"version": acceptance.version, "accepted_at": acceptance.accepted_at}
            for acceptance in terms_acceptances(user=user)
        ],
        "photo_consents.json": [
            {
                "avatar": consent.avatar.name,
                "avatar_id": consent.avatar.public_id,
                "given_at": consent.given_at,
                "terms_version": consent.terms_version,
                "statement": consent.statement.splitlines(),
            }
            for consent in photo_consents(user=user)
        ],
    }


def _write_avatar(archive: zipfile.ZipFile, avatar: Avatar) -> int:
    folder = _avatar_folder(avatar)
    archive.writestr(f"{folder}/avatar.json", _json(_avatar_record(avatar)))
    if avatar.lora_file:
        with avatar.lora_file.open("rb") as lora:
            archive.writestr(f"{folder}/lora/{LORA_NAME}", lora.read())
        archive.writestr(f"{folder}/lora/README.md", lora_readme(avatar=avatar))
    portraits = (
        avatar.portraits.select_related("template", "more_like_me_of").prefetch_related("style_examples")
        .order_by("created_at")
    )
    written = 0
    for portrait in portraits:
        stem = f"{folder}/portraits/{portrait.template.slug}-{portrait.take}-{portrait.take_number}-{portrait.public_id.hex[:8]}"
        try:
            with portrait.image.open("rb") as image:
                # PNGs are compressed already: stored as they are.
                archive.writestr(f"{stem}.png", image.read(), compress_type=zipfile.ZIP_STORED)
        except FileNotFoundError:
            continue
        archive.writestr(f"{stem}.json", _json(_portrait_record(portrait)))
        written += 1
    return written


def user_data_export(*, user: User) -> tempfile.SpooledTemporaryFile:
    """The person's zip, rewound, ready to stream; the caller closes it."""
    now = timezone.now()
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, record in _records(user, now).items():
            archive.writestr(name, _json(record))
        style_requests = list(template_request_list_by_author(user=user))
        archive.writestr("style_requests.json", _json(_style_requests_record(style_requests)))
        _write_style_request_images(archive, style_requests)
        archive.writestr("style_votes.json", _json(_style_votes_record(user)))
        avatars = list(Avatar.objects.filter(user=user).order_by("created_at"))
        portrait_count = sum(_write_avatar(archive, avatar) for avatar in avatars)
        archive.writestr("README.txt", render_to_string("accounts/export_readme.txt", {
            "user": user, "now": now, "avatars": avatars, "portrait_count": portrait_count,
            "style_request_count": len(style_requests),
        }))
    spool.seek(0)
    return spool


def user_data_export_response(*, user: User) -> FileResponse:
    """The export as a private download, streamed from its spool: the page and the API answer alike."""
    response = FileResponse(
        user_data_export(user=user), content_type="application/zip", as_attachment=True,
        filename=user_data_export_name(),
    )
    response["Cache-Control"] = "private, no-store"
    return response


def user_data_export_name(*, now: datetime | None = None) -> str:
    return f"likeness-my-data-{(now or timezone.now()):%Y-%m-%d}.zip"
