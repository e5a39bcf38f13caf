"""Ledger events campaigns listen to: only the referral's unit of work, and its task.

Connected in ``CampaignsConfig.ready()``. The ledger is below campaigns and cannot call it, so
it announces checks; a receiver here writes (or withdraws) the ``Referral`` row inside the
check's transaction, as the notifications receivers write their outbox rows, and queues the
task that moves the points on commit. Why the row is written here and not by the task: the
row is what the daily sweep finds when a task is lost, and a friend's next check must see at
once that a cancelled first check freed the referral (see ``campaigns.triggers.referral``).
The welcome bonus is no receiver's business: ``campaigns.enrolment`` grants it explicitly.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from campaigns import tasks
from campaigns.models import Campaign, CampaignRule, Offer, OfferRule
from campaigns.triggers import referral_note, referral_withdraw
from loyalty.ledger import signals
from loyalty.rules.models import EarnRule
from loyalty.rules.versioning import program_config_changed


def on_check_committed(sender, *, account, check, now, **kwargs) -> None:
    referral = referral_note(account=account, check=check, now=now)
    if referral is None:
        return
    transaction.on_commit(
        lambda: tasks.referral_grant.apply_async(kwargs={"referral_id": referral.pk}),
        robust=True,
    )


def on_check_cancelled(sender, *, account, check, **kwargs) -> None:
    referral = referral_withdraw(account=account, check=check)
    if referral is None:
        return
    transaction.on_commit(
        lambda: tasks.referral_reverse.apply_async(kwargs={"referral_id": referral.pk}),
        robust=True,
    )


def connect() -> None:
    signals.check_committed.connect(on_check_committed, dispatch_uid="campaigns.referral")
    signals.check_cancelled.connect(on_check_cancelled, dispatch_uid="campaigns.referral_cancelled")
    connect_config_version()


# --- the programme's configuration version ------------------------------------------------------
# A campaign's status, window and budget, and an offer's code and window, are part of the spec
# the loader caches (through ``providers.rule_overrides``): any saved or deleted row of them
# bumps the programme's version. Status changes by ``.update()`` bump it in services.py.


def _config_changed(sender, instance, **kwargs) -> None:
    if kwargs.get("raw"):
        return
    if isinstance(instance, (CampaignRule, OfferRule)):
        program_id = (
            EarnRule.objects.filter(pk=instance.rule_id)
            .values_list("program_id", flat=True)
            .first()
        )
    else:
        program_id = instance.program_id
    program_config_changed(program_id)


def connect_config_version() -> None:
    for model in (Campaign, CampaignRule, Offer, OfferRule):
        uid = f"campaigns.config_version.{model._meta.model_name}"
        post_save.connect(_config_changed, sender=model, dispatch_uid=uid + ".save")
        post_delete.connect(_config_changed, sender=model, dispatch_uid=uid + ".delete")
