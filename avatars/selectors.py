from django.db.models import QuerySet

from avatars.models import Avatar


def avatar_list_for_user(*, user) -> QuerySet[Avatar]:
    return Avatar.objects.filter(user=user).exclude(status=Avatar.Status.DELETED)
