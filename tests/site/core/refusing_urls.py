"""The site's URLs plus pages that raise a service's refusal, for the pages' one way through."""

from django.urls import path

from accounts.terms import TermsNotAccepted
from portrait_site.core.status import InvalidTransition
from portrait_site.urls import urlpatterns as site_urlpatterns
from styles.models import TemplateRequest


def refuses_a_transition(request):
    raise InvalidTransition(TemplateRequest(pk=7, status="declined"), "open")


def refuses_until_terms_accepted(request):
    raise TermsNotAccepted("Accept the current terms first.")


urlpatterns = [
    path("refuses/transition/", refuses_a_transition),
    path("refuses/terms/", refuses_until_terms_accepted),
    *site_urlpatterns,
]
