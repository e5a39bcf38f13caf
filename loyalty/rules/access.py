"""Which programmes a staff user may see in the admin (``StaffProgramAccess``).

A superuser, and a staff user without rows, sees every programme (None). A user with rows
sees only those programmes. ``core.admin.ProgrammeScopedAdminMixin`` reads this through the
hook ``core.admin.program_ids_for_user``, filled in ``RulesConfig.ready()``.
"""

from __future__ import annotations

from loyalty.rules.models import StaffProgramAccess


def program_ids_for(user) -> frozenset[int] | None:
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    if user.is_superuser:
        return None
    ids = frozenset(
        StaffProgramAccess.objects.filter(user=user).values_list("program_id", flat=True)
    )
    return ids or None


def connect() -> None:
    from core.admin import program_ids_for_user

    if program_ids_for not in program_ids_for_user:
        program_ids_for_user.append(program_ids_for)
