"""Turns a programme's rows into the engine's frozen specs, cached per process by version.

``program_load`` builds the spec in a fixed number of queries and keeps it per process under
the programme's ``config_version`` (loyalty/rules/versioning.py bumps it in the transaction of
every configuration change). A caller passes the version it read together with a row it
loads anyway (the API key's programme, the locked account); otherwise one query reads it. A
version read before a change commits gives the spec of before, exactly as if the request had
come a moment earlier; after it, the old spec is never used. Budgets are not configuration:
``budget_used`` of budgeted rules (and, through the providers, campaigns' shared budgets) is
re-read on every load, and again under the row locks of ``lock_budget_rows``.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import time
from decimal import Decimal

from django.db.models import Exists, OuterRef

from loyalty.rules import engine
from loyalty.rules.models import Category, EarnRule, ProductSet, Program, RedemptionPolicy, Tier

# Other apps adapt rule specs without this app importing them (a campaign's window, audience
# and shared budget; a personal offer's code): each provider takes (program, active rules) and
# returns {rule pk: {RuleSpec field: value}} to replace fields, or {rule pk: None} to leave
# the rule out. A provider that sets ``budget_left`` must compute it from the ``budget_used``
# of rules it reads fresh from the database: ``lock_budget_rows`` calls the providers again
# after it has locked the rules that award, so the figure it computes then is current.
RuleOverridesProvider = Callable[[Program, Sequence[EarnRule]], Mapping[int, dict | None]]
rule_overrides_providers: list[RuleOverridesProvider] = []


def _expand_categories(codes, children: dict[str, list[str]]) -> frozenset[str]:
    seen: set[str] = set()
    stack = list(codes)
    while stack:
        code = stack.pop()
        if code in seen:
            continue
        seen.add(code)
        stack.extend(children.get(code, ()))
    return frozenset(seen)


def _clock(text: str) -> time:
    text = text.strip()
    # "24:00" ends a window at midnight; the engine reads an end not after the start as a
    # window across midnight, so 22:00-24:00 is 22:00 up to 00:00.
    return time(0) if text in ("24:00", "24:00:00") else time.fromisoformat(text)


def parse_hours(windows) -> tuple[tuple[time, time], ...]:
    """["08:00-11:00", "22:00-24:00", …] → ((time(8), time(11)), (time(22), time(0)), …)."""
    result = []
    for window in windows or ():
        start, end = str(window).split("-", 1)
        result.append((_clock(start), _clock(end)))
    return tuple(result)


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(value)


@dataclasses.dataclass(frozen=True)
class LoadedProgram:
    """The engine's spec plus the rows it was built from that a commit needs again."""

    spec: engine.ProgramSpec
    rules: Mapping[str, EarnRule]  # the active rules by code
    tiers: Sequence[Tier]  # by rank, threshold, id
    program: Program | None = None
    overrides: Mapping[int, dict | None] = dataclasses.field(default_factory=dict)
    # Rule rows this transaction holds ``FOR UPDATE`` (``lock_budget_rows``), their budgets
    # re-read under the lock. Only these may award budgeted points in a committed result.
    locked: frozenset[int] = frozenset()


class BudgetNotLocked(RuntimeError):
    """A result about to be written awards from a budget whose row is not locked (a bug)."""


def program_spec(program: Program, *, version: int | None = None) -> engine.ProgramSpec:
    """The programme as the engine sees it (no locks: budgets as last committed)."""
    return program_load(program, version=version).spec


# program pk → (config_version, LoadedProgram without its ``program``). Read and replaced
# whole, so threads sharing it see one entry or the other, never a mix.
_cache: dict[int, tuple[int, LoadedProgram]] = {}
_cache_lock = threading.Lock()
CACHE_SIZE = 256


def program_version(program_id: int) -> int:
    """The programme's configuration version as committed (one query)."""
    return (
        Program.objects.filter(pk=program_id).values_list("config_version", flat=True).first() or 0
    )


def cache_clear() -> None:
    with _cache_lock:
        _cache.clear()


def program_load(program: Program, *, version: int | None = None) -> LoadedProgram:
    """``program_spec`` and the rule and tier rows behind it.

    From the per-process cache when it holds ``version`` (read with one query if not given),
    else built from the database (``program_build``) and kept. Budgets are always re-read
    (``_with_fresh_budgets``). The rows in the result are shared between requests: callers
    must not change them (``lock_budget_rows`` works on copies).

    Takes no lock. A commit runs the engine on this spec, then ``lock_budget_rows`` on
    ``budget_rows_to_lock`` of the result and runs it again (see ``ledger.services.checks``),
    so only the budgets a check actually spends are locked.
    """
    if version is None:
        version = program_version(program.pk)
    hit = _cache.get(program.pk)
    if hit is not None and hit[0] == version:
        return _with_fresh_budgets(dataclasses.replace(hit[1], program=program))
    loaded = program_build(program)
    with _cache_lock:
        if len(_cache) >= CACHE_SIZE:
            _cache.clear()
        _cache[program.pk] = (version, dataclasses.replace(loaded, program=None))
    return loaded


def _with_fresh_budgets(loaded: LoadedProgram) -> LoadedProgram:
    """``loaded`` with the budgets as last committed: budgeted rules' ``budget_used`` (one
    query) and, when a provider gave a rule a budget (a campaign's), the providers again."""
    budgeted = sorted(rule.pk for rule in loaded.rules.values() if rule.budget_points is not None)
    shared = any("budget_left" in (o or {}) for o in loaded.overrides.values())
    if not budgeted and not shared:
        return loaded
    used = dict(EarnRule.objects.filter(pk__in=budgeted).values_list("pk", "budget_used"))
    active = []
    for rule in loaded.rules.values():
        if rule.pk in used:
            rule = copy.copy(rule)
            rule.budget_used = used[rule.pk]
        active.append(rule)
    overrides = _overrides(loaded.program, active) if shared else loaded.overrides
    return dataclasses.replace(
        loaded,
        spec=dataclasses.replace(loaded.spec, rules=_rule_specs(active, overrides)),
        rules={rule.code: rule for rule in active},
        overrides=overrides,
    )


def program_build(program: Program) -> LoadedProgram:
    """The ``LoadedProgram`` read from the database, in a fixed number of queries."""
    children: dict[str, list[str]] = {}
    for code, parent in Category.objects.filter(program=program).values_list(
        "code", "parent__code"
    ):
        if parent:
            children.setdefault(parent, []).append(code)
    # Which sets the programme's accrual and redemption exclude, read with the sets themselves
    # (instead of one query per many-to-many).
    product_sets = list(
        ProductSet.objects.filter(program=program)
        .annotate(
            in_accrual_exclude=Exists(
                Program.accrual_exclude.through.objects.filter(
                    program_id=program.pk, productset_id=OuterRef("pk")
                )
            ),
            in_redemption_exclude=Exists(
                RedemptionPolicy.exclude.through.objects.filter(
                    redemptionpolicy__program_id=program.pk, productset_id=OuterRef("pk")
                )
            ),
        )
        .order_by("code")
    )
    sets = {
        ps.code: engine.ProductSetSpec(
            code=ps.code,
            categories=_expand_categories(ps.categories, children),
            skus=frozenset(ps.skus),
            exclude_skus=frozenset(ps.exclude_skus),
        )
        for ps in product_sets
    }
    tier_rows = list(program.tiers.order_by("rank", "threshold", "id"))
    tiers = tuple(
        engine.TierSpec(
            code=t.code,
            name=t.name,
            rank=t.rank,
            threshold=t.threshold,
            earn_percent=t.earn_percent,
            max_share=t.max_share,
        )
        for t in tier_rows
    )
    policy = RedemptionPolicy.objects.filter(program=program).first()
    if policy is None:
        # A programme without a policy allows no redemption at all.
        redemption = engine.RedemptionSpec(
            max_share=Decimal("0"),
            min_order_amount=Decimal("0"),
            min_balance=Decimal("0"),
            max_points_per_check=None,
            exclude=(),
            allow_promo_items=False,
            earn_on_redeemed=False,
        )
    else:
        redemption = engine.RedemptionSpec(
            max_share=policy.max_share,
            min_order_amount=policy.min_order_amount,
            min_balance=policy.min_balance,
            max_points_per_check=policy.max_points_per_check,
            exclude=tuple(sorted(ps.code for ps in product_sets if ps.in_redemption_exclude)),
            allow_promo_items=policy.allow_promo_items,
            earn_on_redeemed=policy.earn_on_redeemed,
        )
    active = list(
        EarnRule.objects.filter(program=program, is_active=True)
        .prefetch_related("outlets", "tiers", "include", "exclude")
        .order_by("-priority", "code")
    )
    overrides = _overrides(program, active)
    spec = engine.ProgramSpec(
        code=program.code,
        timezone=program.timezone,
        precision=program.precision,
        rounding=program.rounding,
        point_value=program.point_value,
        lifetime_days=program.lifetime_days,
        hold_days=program.hold_days,
        accrual_exclude=tuple(sorted(ps.code for ps in product_sets if ps.in_accrual_exclude)),
        accrual_promo_items=program.accrual_promo_items,
        redemption=redemption,
        product_sets=sets,
        tiers=tiers,
        rules=_rule_specs(active, overrides),
    )
    return LoadedProgram(
        spec=spec,
        rules={rule.code: rule for rule in active},
        tiers=tier_rows,
        program=program,
        overrides=overrides,
    )


def _overrides(program: Program, active: Sequence[EarnRule]) -> dict[int, dict | None]:
    overrides: dict[int, dict | None] = {}
    for provider in rule_overrides_providers:
        overrides.update(provider(program, active))
    return overrides


def _rule_specs(
    active: Sequence[EarnRule], overrides: Mapping[int, dict | None]
) -> tuple[engine.RuleSpec, ...]:
    return tuple(
        dataclasses.replace(_rule_spec(rule), **(overrides.get(rule.pk) or {}))
        for rule in active
        if not (rule.pk in overrides and overrides[rule.pk] is None)
    )


# --- budget locks --------------------------------------------------------------------------------


def _budgeted(spec: engine.RuleSpec, row: EarnRule) -> bool:
    return spec.budget_left is not None or row.budget_points is not None


def budget_rows_to_lock(loaded: LoadedProgram, result: engine.CheckResult) -> frozenset[int]:
    """The rule rows a commit of ``result`` must hold locked: every budgeted rule it awards
    points from, and for a campaign's rule every budgeted rule of that campaign in the spec
    (the campaign's budget left is its budget minus all its rules' ``budget_used``)."""
    specs = {rule.code: rule for rule in loaded.spec.rules}
    needed: set[int] = set()
    campaigns: set[str] = set()
    for row in result.breakdown:
        spec, rule = specs.get(row.rule), loaded.rules.get(row.rule)
        if row.points <= 0 or spec is None or rule is None or not _budgeted(spec, rule):
            continue  # tier rows ("tier:base") and unbudgeted rules spend no shared figure
        needed.add(rule.pk)
        if spec.campaign is not None:
            campaigns.add(spec.campaign)
    if campaigns:
        for spec in loaded.spec.rules:
            rule = loaded.rules[spec.code]
            if spec.campaign in campaigns and _budgeted(spec, rule):
                needed.add(rule.pk)
    return frozenset(needed)


def lock_budget_rows(loaded: LoadedProgram, pks: Iterable[int]) -> LoadedProgram:
    """Lock ``pks`` with the rows already locked (``SELECT … FOR UPDATE`` ordered by id, in
    one query), re-read their budgets, and rebuild the spec from them.

    The providers run again when a locked rule's spec took its budget from them (a
    campaign's shared budget), so they read ``budget_used`` after the lock. A rule that was
    deleted or deactivated meanwhile leaves the spec. Rows outside ``locked`` keep the budgets
    read before: they may decide that a rule is spent, never that it awards (see
    ``assert_budgets_locked``).
    """
    assert loaded.program is not None, "lock_budget_rows needs a LoadedProgram from program_load"
    wanted = loaded.locked | frozenset(pks)
    fresh = {
        pk: (is_active, budget_points, budget_used)
        for pk, is_active, budget_points, budget_used in EarnRule.objects.select_for_update()
        .filter(program=loaded.program, pk__in=sorted(wanted))
        .order_by("pk")
        .values_list("pk", "is_active", "budget_points", "budget_used")
    }
    active = []
    for rule in loaded.rules.values():
        if rule.pk in wanted:
            row = fresh.get(rule.pk)
            if row is None or not row[0]:
                continue  # deleted or deactivated since it was read: it awards nothing now
            rule = copy.copy(rule)  # the cached row is shared with other requests
            _, rule.budget_points, rule.budget_used = row
        active.append(rule)
    active.sort(key=lambda rule: (-rule.priority, rule.code))
    overrides = loaded.overrides
    if any("budget_left" in (overrides.get(pk) or {}) for pk in wanted):
        overrides = _overrides(loaded.program, active)
    return dataclasses.replace(
        loaded,
        spec=dataclasses.replace(loaded.spec, rules=_rule_specs(active, overrides)),
        rules={rule.code: rule for rule in active},
        overrides=overrides,
        locked=frozenset(fresh),
    )


def assert_budgets_locked(loaded: LoadedProgram, result: engine.CheckResult) -> None:
    """Raise BudgetNotLocked unless every budget ``result`` spends is locked by ``loaded``."""
    missing = budget_rows_to_lock(loaded, result) - loaded.locked
    if missing:
        raise BudgetNotLocked(f"Budgeted rules {sorted(missing)} award without their row lock.")


def _rule_spec(rule: EarnRule) -> engine.RuleSpec:
    budget_left = None
    if rule.budget_points is not None:
        used = rule.budget_used  # as read: before the lock, or re-read under it
        budget_left = max(rule.budget_points - used, Decimal("0"))
    return engine.RuleSpec(
        code=rule.code,
        kind=rule.kind,
        name=rule.name,
        priority=rule.priority,
        exclusive=rule.exclusive,
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
        days_of_week=tuple(rule.days_of_week or ()),
        hours=parse_hours(rule.hours),
        outlets=tuple(sorted(o.code for o in rule.outlets.all())),
        channels=tuple(rule.channels or ()),
        tiers=tuple(sorted(t.code for t in rule.tiers.all())),
        segments=tuple(rule.segments or ()),
        include=tuple(sorted(ps.code for ps in rule.include.all())),
        exclude=tuple(sorted(ps.code for ps in rule.exclude.all())),
        min_order_amount=rule.min_order_amount,
        lifetime_days=rule.lifetime_days,
        budget_left=budget_left,
        limit_per_customer=rule.limit_per_customer,
        offer=None,
        campaign=None,
        factor=_decimal(rule.factor),
        points=_decimal(rule.points),
        min_amount=_decimal(rule.min_amount),
        every=rule.every,
        event=rule.event or None,
    )
