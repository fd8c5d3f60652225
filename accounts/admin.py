"""The admin's accounts: people, their notices, deletion receipts and API tokens."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.forms import AdminSignInForm
from accounts.models import ApiToken, DeletionReceipt, Notice, User
from accounts.notices import notice_text
from portrait_site.privacy.deletion import user_delete_everything

# Its wrong passwords count against the account's sign-in limits, as the website's and the API's do.
admin.site.login_form = AdminSignInForm


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "display_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "display_name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "display_name"]}),
        (_("Permissions"), {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    # Deleting a person here is the same as their own "delete everything": their files go with
    # their rows, their orders stay without the link, and they are mailed the receipt.
    def delete_model(self, request, obj) -> None:
        user_delete_everything(user=obj)

    def delete_queryset(self, request, queryset) -> None:
        for user in queryset:
            user_delete_everything(user=user)


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["user", "text", "created_at", "read_at"]
    list_select_related = ["user"]
    list_filter = ["read_at"]
    search_fields = ["user__email", "message"]

    @admin.display(description=_("Message"), ordering="message")
    def text(self, notice: Notice) -> str:
        return notice_text(notice)


@admin.register(DeletionReceipt)
class DeletionReceiptAdmin(admin.ModelAdmin):
    list_display = ["token", "scope", "created_at"]
    list_filter = ["scope"]
    readonly_fields = ["user_email_hash", "token", "scope", "removed", "created_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made through the API only (the key is shown once); deleting one here revokes it."""

    list_display = ["user", "name", "key_prefix", "created_at", "last_used_at", "expires_at"]
    list_select_related = ["user"]
    search_fields = ["user__email", "name", "key_prefix"]
    readonly_fields = ["user", "name", "key_prefix", "created_at", "last_used_at", "expires_at"]
    exclude = ["key_hash"]

    def has_add_permission(self, request):
        return False
