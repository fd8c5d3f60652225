from django.conf import settings
from django.db import migrations, models


def fill_title_keys(apps, schema_editor):
    TemplateRequest = apps.get_model("styles", "TemplateRequest")
    for request in TemplateRequest.objects.only("pk", "title"):
        request.title_key = " ".join(request.title.split()).casefold()
        request.save(update_fields=["title_key"])


class Migration(migrations.Migration):

    dependencies = [
        ('styles', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='templaterequest',
            name='title_key',
            field=models.CharField(default='', editable=False, max_length=120),
        ),
        migrations.RunPython(fill_title_keys, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='templaterequest',
            constraint=models.UniqueConstraint(condition=models.Q(('status__in', ['open', 'planned'])), fields=('title_key',), name='one_live_request_per_title'),
        ),
    ]
