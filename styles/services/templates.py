"""The operator's curation of style templates: publishing (which ships their requests and tells the voters), examples, deletion."""

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.locale import user_locale_override
from accounts.mail import mail_render_for_user, mail_send_all
from accounts.notices import notice_create
from portrait_site.core.errors import ApplicationError
from portrait_site.core.files import storage_delete_files
from styles.models import StyleExample, StyleTemplate, TemplateRequest, TemplateVote
from styles.selectors import template_request_list_changed


class CurationRefused(ApplicationError):
    """An operator action that does not apply to this request or template now."""

    code = "curation_refused"


def _voters_notify(*, template: StyleTemplate, user_ids: list[int]) -> None:
    from accounts.models import User

    link = reverse("styles:detail", kwargs={"slug": template.slug})
    voters = list(User.objects.filter(pk__in=user_ids, is_active=True))
    for voter in voters:
        # The sentence is worded when read; the style's name is the one in the voter's language.
        with user_locale_override(user=voter):
            title = template.display_title
        notice_create(user=voter, message=gettext_noop("The style you voted for is live: “%(template)s”."),
                      params={"template": title}, link=link)
    emails = [
        mail_render_for_user(
            user=voter,
            subject_template="styles/template_live_email_subject.txt",
            body_template="styles/template_live_email.txt",
            context={"template": template, "link": f"{settings.SITE_URL}{link}"},
        )
        for voter in voters
    ]
    transaction.on_commit(lambda: mail_send_all(emails))


def template_publish(*, template: StyleTemplate) -> StyleTemplate:
    """Publish a template. Requests it was made from become shipped and their voters are told."""
    with transaction.atomic():
        locked = StyleTemplate.objects.select_for_update().get(pk=template.pk)
        if "{identity}" not in locked.prompt:
            raise CurationRefused(_("“%(title)s”: the prompt has no {identity} placeholder.") % {"title": locked.title})
        if not locked.is_published:
            locked.is_published = True
            locked.published_at = timezone.now()
            locked.save(update_fields=["is_published", "published_at", "updated_at"])
        shipping = list(
            TemplateRequest.objects.select_for_update()
            .filter(template=locked, status__in=(TemplateRequest.Status.OPEN, TemplateRequest.Status.PLANNED))
        )
        for request in shipping:
            request.transition_to(TemplateRequest.Status.SHIPPED)
            request.save(update_fields=["status"])
        if shipping:
            transaction.on_commit(template_request_list_changed)
            voter_ids = list(
                TemplateVote.objects.filter(request__in=shipping).values_list("user_id", flat=True).distinct()
            )
            _voters_notify(template=locked, user_ids=voter_ids)
        return locked


def style_example_create(
    *, template: StyleTemplate, image: ContentFile, consent_note: str, recorded_by: str, caption: str = "",
    source_portrait=None,
) -> StyleExample:
    """Show a picture on the style's page, with the consent of the person in it written down.
    Raises CurationRefused without a consent note: nobody's face is shown on a guess."""
    consent_note = consent_note.strip()
    if not consent_note:
        raise CurationRefused(_("Say how and when the person in the picture agreed to be shown."))
    with transaction.atomic():
        example = StyleExample(
            template=template, caption=caption.strip()[:120], source_portrait=source_portrait,
            consent_note=consent_note, consent_recorded_at=timezone.now(), consent_recorded_by=recorded_by,
        )
        example.image.save("example.png", image, save=False)
        example.save()
    return example


def template_delete(*, template: StyleTemplate) -> None:
    """Delete a template with its pictures: cover, reference image and examples. Raises
    ProtectedError while portraits or render jobs use it (the admin says so before)."""
    with transaction.atomic():
        locked = StyleTemplate.objects.select_for_update().get(pk=template.pk)
        names = [field.name for field in (locked.cover_image, locked.reference_image) if field]
        names += [example.image.name for example in locked.examples.exclude(image="")]
        locked.delete()
        transaction.on_commit(lambda: storage_delete_files(names))


def template_unpublish(*, template: StyleTemplate) -> StyleTemplate:
    with transaction.atomic():
        locked = StyleTemplate.objects.select_for_update().get(pk=template.pk)
        if locked.is_published:
            locked.is_published = False
            locked.save(update_fields=["is_published", "updated_at"])
        return locked
