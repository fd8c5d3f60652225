"""What every page's template is given about the site: the tiny engine, the local test payments, the price."""

from django.conf import settings


def likeness(request):
    return {
        "tiny_engine": settings.LIKENESS_BASE_MODEL == "tiny",
        "local_payments": settings.LIKENESS_LOCAL_PAYMENTS,
        "price_minor": settings.LIKENESS_PRICE_MINOR,
        "currency": settings.LIKENESS_CURRENCY.upper(),
    }
