from django.db import migrations


def schedule_sweep(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name="Requeue GPU jobs whose worker went quiet",
        defaults={"func": "avatars.tasks.jobs_requeue_stale", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def unschedule_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func="avatars.tasks.jobs_requeue_stale").delete()


class Migration(migrations.Migration):
    dependencies = [("avatars", "0002_initial"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]

    operations = [migrations.RunPython(schedule_sweep, unschedule_sweep)]
