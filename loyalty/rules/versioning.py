"""The programme's configuration version: bumped by every change the engine's spec reads.

``Program.config_version`` is the key of the per-process spec cache (``loader.program_load``).
Every change to the programme, its outlets, categories, product sets, tiers, earn rules (and
their many-to-many links) or its redemption policy bumps it in the same transaction, here
through model signals (bookkeeping only: one ``UPDATE … SET config_version =
GREATEST(config_version + 1, <now in µs>)``). Queryset ``.update()`` sends no signal: code
that changes configuration that way calls ``program_config_changed`` itself (program_io,
campaigns' services). A rule's ``budget_used``
is not configuration: budgets are read fresh on every use, never from the cache.
"""

from __future__ import annotations

import time

from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.db.models.signals import m2m_changed, post_delete, post_save

from loyalty.rules import models as m


def program_config_changed(program_id: int | None) -> None:
    """Bump the programme's configuration version (in the caller's transaction).

    To ``max(version + 1, now in microseconds)``: always higher than before, and a number that
    a rolled-back bump took is not handed out again by the next one (a process that cached a
    spec read inside the rolled-back transaction must never find it under a later version).
    """
    if program_id is not None:
        m.Program.objects.filter(pk=program_id).update(
            config_version=Greatest(F("config_version") + 1, Value(time.time_ns() // 1000))
        )


def _program_id(instance) -> int | None:
    if isinstance(instance, m.Program):
        return instance.pk
    return getattr(instance, "program_id", None)


def _changed(sender, instance, **kwargs) -> None:
    if kwargs.get("raw"):
        return  # loaddata
    if kwargs.get("update_fields") and set(kwargs["update_fields"]) <= {"budget_used"}:
        return
    program_config_changed(_program_id(instance))


def _m2m_changed(sender, instance, action, **kwargs) -> None:
    if action.startswith("post_"):
        program_config_changed(_program_id(instance))


CONFIG_MODELS = (m.Program, m.Outlet, m.Category, m.ProductSet, m.Tier, m.EarnRule)
CONFIG_LINKS = (
    m.Program.accrual_exclude.through,
    m.RedemptionPolicy.exclude.through,
    m.EarnRule.outlets.through,
    m.EarnRule.tiers.through,
    m.EarnRule.include.through,
    m.EarnRule.exclude.through,
)


def connect() -> None:
    for model in (*CONFIG_MODELS, m.RedemptionPolicy):
        uid = f"rules.config_version.{model._meta.model_name}"
        post_save.connect(_changed, sender=model, dispatch_uid=uid + ".save")
        if model is not m.Program:
            post_delete.connect(_changed, sender=model, dispatch_uid=uid + ".delete")
    for through in CONFIG_LINKS:
        m2m_changed.connect(
            _m2m_changed, sender=through, dispatch_uid=f"rules.config_version.{through.__name__}"
        )
