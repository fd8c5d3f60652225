from django.db import migrations

TASK = "avatars.tasks.avatars_forget_photos_after_failure"


def schedule_sweep(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name="Delete the photos of failed avatars nobody started again",
        defaults={"func": TASK, "schedule_type": "H", "repeats": -1},
    )


def unschedule_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [("avatars", "0003_schedule_stale_job_sweep")]

    operations = [migrations.RunPython(schedule_sweep, unschedule_sweep)]
