from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from avatars.selectors import avatar_list_for_user


@login_required
def home(request):
    return render(request, "avatars/home.html", {"avatars": avatar_list_for_user(user=request.user)})
