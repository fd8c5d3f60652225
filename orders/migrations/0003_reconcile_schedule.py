"""Schedules the reconciliation with Stripe: a lost webhook costs minutes, never an order."""

from django.db import migrations

SCHEDULE_NAME = "orders: reconcile stale checkouts"
TASK = "orders.tasks.orders_reconcile_stale_checkouts"


def schedule_create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": TASK, "schedule_type": "I", "minutes": 5, "repeats": -1},
    )


def schedule_delete(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_checkout_attempts_paid_via"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
