from django.db import migrations

TASK = "avatars.tasks.avatars_forget_unpaid_photos"


def schedule_sweep(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name="Delete the photos of avatars never paid for",
        defaults={"func": TASK, "schedule_type": "H", "repeats": -1},
    )


def unschedule_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [("avatars", "0013_translated_labels")]

    operations = [migrations.RunPython(schedule_sweep, unschedule_sweep)]
