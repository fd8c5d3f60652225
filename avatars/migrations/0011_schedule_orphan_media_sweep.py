from django.db import migrations

TASK = "avatars.tasks.media_orphans_delete"


def schedule_sweep(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name="Delete stored files no row points to",
        defaults={"func": TASK, "schedule_type": "D", "repeats": -1},
    )


def unschedule_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [("avatars", "0010_avatar_engine_family")]

    operations = [migrations.RunPython(schedule_sweep, unschedule_sweep)]
