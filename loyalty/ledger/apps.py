from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


def _profile_for_new_account(sender, instance, created, raw=False, **kwargs):
    """Every account has its programme's member profile (empty until the member fills it)."""
    if created and not raw:
        from loyalty.ledger.models import MemberProfile

        MemberProfile.objects.create(account=instance, program_id=instance.program_id)


class LedgerConfig(AppConfig):
    name = "loyalty.ledger"
    label = "ledger"
    verbose_name = _("Points ledger")

    def ready(self) -> None:
        from loyalty.ledger import simulation

        simulation.connect()
        post_save.connect(
            _profile_for_new_account, sender="ledger.Account", dispatch_uid="ledger-profile"
        )
