"""The admin is the operator's: it carries the site's name, and the dashboard warns while the
operator's name or contact is a placeholder and names the styles with no example."""

import pytest
from django.urls import reverse

from styles.models import StyleExample
from tests.factories import StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_admin_carries_the_sites_name_in_the_operators_language(operator):
    english = operator.get(reverse("admin:index")).content.decode()
    chinese = operator.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "Likeness administration" in english and "Django administration" not in english
    assert "Likeness 管理后台" in chinese and "Django" not in chinese


@pytest.mark.parametrize(("name", "contact", "unset"), [
    ("", "privacy@localhost", ["LIKENESS_OPERATOR_NAME", "LIKENESS_OPERATOR_CONTACT"]),
    ("Studio Lin", "privacy@localhost", ["LIKENESS_OPERATOR_CONTACT"]),
    ("", "hello@studio-lin.example", ["LIKENESS_OPERATOR_NAME"]),
])
def test_the_dashboard_warns_while_the_operator_is_a_placeholder(operator, settings, name, contact, unset):
    settings.LIKENESS_OPERATOR_NAME, settings.LIKENESS_OPERATOR_CONTACT = name, contact

    page = operator.get(reverse("admin-dashboard")).content.decode()

    assert 'id="operator-unset"' in page
    assert ", ".join(unset) in page


def test_no_warning_once_the_operator_is_named(operator, settings):
    settings.LIKENESS_OPERATOR_NAME, settings.LIKENESS_OPERATOR_CONTACT = "Studio Lin", "hello@studio-lin.example"

    assert 'id="operator-unset"' not in operator.get(reverse("admin-dashboard")).content.decode()


def test_the_dashboard_names_the_published_styles_with_no_example(operator):
    bare = StyleTemplateFactory(title="Bare style", is_published=True)
    shown = StyleTemplateFactory(title="Shown style", is_published=True)
    StyleTemplateFactory(title="Draft style", is_published=False)
    StyleExample.objects.create(template=shown, image="styles/examples/x.png", consent_note="own render")

    page = operator.get(reverse("admin-dashboard")).content.decode()
    block = page.split('id="styles-without-examples"')[1].split("</section>")[0]

    assert "Bare style" in block and "Shown style" not in block and "Draft style" not in block
    assert reverse("admin:styles_styletemplate_change", args=[bare.pk]) in block


def test_refunds_are_listed_by_order_number(operator):
    from orders.models import Refund
    from tests.factories import OrderFactory

    order = OrderFactory()
    Refund.objects.create(order=order, amount=order.amount, currency=order.currency, reason="x")

    page = operator.get(reverse("admin:orders_refund_changelist")).content.decode()

    assert order.reference in page and f"Order {order.pk}" not in page
