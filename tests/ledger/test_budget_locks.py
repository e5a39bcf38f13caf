"""Budget locks: a commit locks only the budgeted rules it awards from (and their campaigns'
other budgeted rules), never every budget of the programme; and never overspends one."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from campaigns import services as campaign_services
from campaigns.models import CampaignRule
from loyalty.ledger.models import RuleAward
from loyalty.ledger.services import checks
from loyalty.ledger.services import grants as events
from loyalty.rules import engine, loader
from loyalty.rules.models import EarnRule
from tests.campaigns.till import SATURDAY, WEDNESDAY, D, commit, line, rule_points
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    EarnRuleFactory,
    OutletFactory,
    ProductSetFactory,
    ProgramFactory,
    RedemptionPolicyFactory,
    SegmentFactory,
    TierFactory,
)
from tests.ledger.helpers import assert_consistent

THREADS = 8


def _programme(now, *, accounts=1, weekend_budget=None, tea_budget=None):
    """Base 5 %; two budgeted rules: ×2 on coffee at weekends, +30 per tea item."""
    program = ProgramFactory(code="coffee", timezone="Europe/Moscow")
    TierFactory(program=program, code="base", rank=0, earn_percent=D(5))
    RedemptionPolicyFactory(program=program)
    outlet = OutletFactory(program=program, code="msk-1")
    coffee = ProductSetFactory(program=program, code="coffee", categories=["coffee"])
    tea = ProductSetFactory(program=program, code="tea", categories=["tea"])
    weekend = EarnRuleFactory(
        program=program,
        code="weekend-x2",
        kind="multiplier",
        factor=D(2),
        days_of_week=[6, 7],
        budget_points=weekend_budget or D(1000),
    )
    weekend.include.add(coffee)
    per_tea = EarnRuleFactory(
        program=program,
        code="tea-bonus",
        kind="fixed_per_item",
        points=D(30),
        budget_points=tea_budget or D(1000),
    )
    per_tea.include.add(tea)
    review = EarnRuleFactory(
        program=program, code="review", kind="event", event="review", points=D(50)
    )
    survey = EarnRuleFactory(
        program=program,
        code="survey",
        kind="event",
        event="survey",
        points=D(20),
        budget_points=D(1000),
    )
    members = [
        AccountFactory(program=program, last_purchase_at=now - timedelta(days=120))
        for _ in range(accounts)
    ]
    rules = {r.code: r for r in (weekend, per_tea, review, survey)}
    return program, outlet, members, rules


def _tea(amount="200.00"):
    return line(amount, sku="GREEN", category="tea")


def _campaign(program, now, *, code, budget, rules):
    campaign = CampaignFactory(
        program=program,
        code=code,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=30),
        segment=SegmentFactory(
            program=program,
            code=f"{code}-sleepers",
            conditions={"all": [{"field": "recency_days", "op": "gte", "value": 90}]},
        ),
        budget_points=budget,
    )
    for rule in rules:
        CampaignRule.objects.create(campaign=campaign, rule=rule)
    campaign_services.campaign_launch(campaign=campaign, now=now)
    return campaign


def _budget_locks(queries) -> list[str]:
    table = EarnRule._meta.db_table
    return [q["sql"] for q in queries if "FOR UPDATE" in q["sql"] and table in q["sql"]]


# --- which rows are locked (any database) ------------------------------------------------------


@pytest.mark.django_db
def test_a_check_no_budget_pays_for_locks_no_budget(now):
    _, outlet, (account,), _ = _programme(now)
    with CaptureQueriesContext(connection) as ctx:
        done = commit(account, outlet, WEDNESDAY)  # coffee on a weekday: base points only
    assert done.result.earned_points == D(50)
    if connection.features.has_select_for_update:
        assert _budget_locks(ctx.captured_queries) == []


@pytest.mark.django_db
def test_a_check_locks_exactly_the_budgets_it_spends(now):
    _, outlet, (account,), rules = _programme(now)
    with CaptureQueriesContext(connection) as ctx:
        done = commit(account, outlet, SATURDAY, lines=[_tea()])  # tea: not the weekend rule
    assert rule_points(done.result, "tea-bonus") == D(30)
    assert EarnRule.objects.get(code="tea-bonus").budget_used == D(30)
    assert EarnRule.objects.get(code="weekend-x2").budget_used == D(0)
    if connection.features.has_select_for_update:
        (lock,) = _budget_locks(ctx.captured_queries)
        assert str(rules["tea-bonus"].pk) in lock
        assert str(rules["weekend-x2"].pk) not in lock


@pytest.mark.django_db
def test_a_campaign_rule_locks_its_campaign_siblings_only(now):
    program, outlet, (account,), rules = _programme(now)
    extra = EarnRuleFactory(
        program=program, code="big-check", kind="threshold", min_amount=D(5000), points=D(100)
    )
    _campaign(program, now, code="autumn", budget=D(500), rules=[rules["weekend-x2"], extra])
    with CaptureQueriesContext(connection) as ctx:
        done = commit(account, outlet, SATURDAY)  # ×2 awards; big-check (a sibling) does not
    assert rule_points(done.result, "weekend-x2") == D(50)
    if connection.features.has_select_for_update:
        (lock,) = _budget_locks(ctx.captured_queries)
        assert str(rules["weekend-x2"].pk) in lock and str(extra.pk) in lock
        assert str(rules["tea-bonus"].pk) not in lock


@pytest.mark.django_db
def test_budget_lock_queries_are_few_and_constant_in_lines(now):
    program, outlet, accounts, rules = _programme(now, accounts=4)
    _campaign(program, now, code="autumn", budget=D(5000), rules=[rules["tea-bonus"]])

    def queries(account, at, lines):
        commit(account, outlet, at, lines=lines)  # warm caches (content types, …)
        with CaptureQueriesContext(connection) as ctx:
            commit(account, outlet, at, lines=lines)
        return len(ctx.captured_queries)

    plain = queries(accounts[0], WEDNESDAY, [line("100.00")])
    budgeted = queries(accounts[1], SATURDAY, [line("100.00")])
    budgeted_50 = queries(accounts[2], SATURDAY, [line("10.00")] * 50)
    campaign = queries(accounts[3], SATURDAY, [_tea()])
    print(f"commit: {plain} plain, {budgeted} budgeted ({budgeted_50} for 50 lines), {campaign}")
    # The lock that re-reads the budgets and the rule's budget_used update (both there before
    # this protocol too); a campaign's shared budget is computed again under the lock (2).
    assert budgeted == budgeted_50 == plain + 2
    assert campaign == plain + 4


@pytest.mark.django_db
def test_a_budget_raised_meanwhile_locks_the_union(now, monkeypatch):
    """The locked run awards from a rule the first run did not: it is locked before writing."""
    program, outlet, (account,), rules = _programme(now)
    weekend = _campaign(program, now, code="weekend", budget=D(1000), rules=[rules["weekend-x2"]])
    tea = _campaign(program, now, code="tea", budget=D(0), rules=[rules["tea-bonus"]])
    EarnRule.objects.filter(pk=rules["tea-bonus"].pk).update(budget_points=D(1000))
    real, calls = loader.lock_budget_rows, []

    def lock_budget_rows(loaded, pks):
        if not calls:  # between the first run and the first lock the marketer tops up "tea"
            type(tea).objects.filter(pk=tea.pk).update(budget_points=D(1000))
        calls.append(set(pks))
        return real(loaded, pks)

    monkeypatch.setattr(loader, "lock_budget_rows", lock_budget_rows)
    done = commit(account, outlet, SATURDAY, lines=[line("1000.00"), _tea()])
    assert calls == [{rules["weekend-x2"].pk}, {rules["weekend-x2"].pk, rules["tea-bonus"].pk}]
    assert rule_points(done.result, "weekend-x2") == D(50)
    assert rule_points(done.result, "tea-bonus") == D(30)
    assert EarnRule.objects.get(code="tea-bonus").budget_used == D(30)
    assert campaign_services.campaign_figures(weekend).budget_left == D(950)


@pytest.mark.django_db
def test_a_result_spending_an_unlocked_budget_is_refused(now):
    program, _, _, rules = _programme(now)
    loaded = loader.program_load(program)
    state = engine.CustomerState(tier_code="base", available=D(0), purchases_count=0)
    result = engine.calculate(
        loaded.spec,
        state,
        engine.CheckInput(lines=(_tea(),), outlet="msk-1", channel="offline", now=SATURDAY),
    )
    assert loader.budget_rows_to_lock(loaded, result) == {rules["tea-bonus"].pk}
    with pytest.raises(loader.BudgetNotLocked):
        loader.assert_budgets_locked(loaded, result)
    with pytest.raises(loader.BudgetNotLocked):
        checks.budget_spend(loaded, rules["tea-bonus"], D(30))
    locked = loader.lock_budget_rows(loaded, {rules["tea-bonus"].pk})
    loader.assert_budgets_locked(locked, result)


# --- real row locks (PostgreSQL) ---------------------------------------------------------------


def _in_thread(fn, results, index):
    try:
        results[index] = fn()
    except Exception as exc:  # the test inspects what each thread got
        results[index] = exc
    finally:
        connections.close_all()


class _Holder:
    """Another transaction holding ``FOR UPDATE`` on rule rows until released."""

    def __init__(self, *pks):
        self.locked, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=_in_thread, args=(self._hold, [None], 0))
        self.pks = pks

    def _hold(self):
        with transaction.atomic():
            list(EarnRule.objects.select_for_update().filter(pk__in=self.pks).order_by("pk"))
            self.locked.set()
            self.release.wait(15)

    def __enter__(self):
        self.thread.start()
        assert self.locked.wait(10)
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(15)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")


def _lock_timeout(value):
    with connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = '{value}'")


@pytest.mark.django_db(transaction=True)
def test_checks_the_locked_budget_does_not_pay_for_do_not_wait(on_postgres, now):
    program, outlet, (account,), rules = _programme(now)
    _campaign(program, now, code="autumn", budget=D(500), rules=[rules["tea-bonus"]])
    budgeted = [r.pk for r in rules.values() if r.budget_points is not None]
    with _Holder(*budgeted):
        # Fail fast instead of waiting if a check were (wrongly) queued behind the budgets.
        _lock_timeout("1s")
        weekday = commit(account, outlet, WEDNESDAY)  # the weekend rule's days do not match
        cakes = commit(account, outlet, SATURDAY, lines=[line("300.00", category="cakes")])
        review = _event(account, "review", "r-1", now)  # an event rule without a budget
        # The held budgets themselves do wait: the locks are real.
        _lock_timeout("200ms")
        with pytest.raises(Exception, match="lock timeout"):
            commit(account, outlet, SATURDAY)  # weekend coffee
        with pytest.raises(Exception, match="lock timeout"):
            commit(account, outlet, WEDNESDAY, lines=[_tea()])  # the campaign's tea
        with pytest.raises(Exception, match="lock timeout"):
            _event(account, "survey", "s-1", now)  # a budgeted event rule
    assert weekday.result.earned_points == D(50)
    assert cakes.result.earned_points == D(15)
    assert review.awarded_points == D(50)
    after = commit(account, outlet, SATURDAY)  # released: now it goes through
    assert rule_points(after.result, "weekend-x2") == D(50)
    assert EarnRule.objects.get(code="weekend-x2").budget_used == D(50)
    assert EarnRule.objects.get(code="tea-bonus").budget_used == D(0)
    assert_consistent(SATURDAY, account)


def _event(account, event, external_id, now):
    return events.event_award(
        program=account.program,
        outlet=None,
        customer=account.customer,
        event=event,
        external_id=external_id,
        now=now,
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_mixed_checks_never_overspend(on_postgres, now):
    """Eight tills at once: weekend coffee (a budget for 3), tea (a campaign budget for 4
    items) and weekday checks (no budget); the budgets end exact, the others all pass."""
    program, outlet, accounts, rules = _programme(
        now, accounts=THREADS, weekend_budget=D(150), tea_budget=D(120)
    )
    campaign = _campaign(program, now, code="tea", budget=D(120), rules=[rules["tea-bonus"]])
    kinds = ["coffee", "tea", "weekday", "both"] * (THREADS // 4)
    barrier = threading.Barrier(THREADS)

    def till(i):
        def run():
            barrier.wait()
            at, lines = SATURDAY, [line("1000.00")]
            if kinds[i] == "tea":
                lines = [_tea()]
            elif kinds[i] == "both":
                lines = [line("1000.00"), _tea(), _tea()]
            elif kinds[i] == "weekday":
                at = WEDNESDAY
            return commit(accounts[i], outlet, at, lines=lines, key=f"mixed-{i}")

        return run

    results = [None] * THREADS
    threads = [
        threading.Thread(target=_in_thread, args=(till(i), results, i)) for i in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    failed = [r for r in results if not isinstance(r, checks.CommittedCheck)]
    assert failed == [], failed
    weekend = sum((rule_points(r.result, "weekend-x2") for r in results), D(0))
    tea = sum((rule_points(r.result, "tea-bonus") for r in results), D(0))
    # Four checks want 50 each of the weekend's 150; six tea items want 30 each of 120.
    assert weekend == D(150) and tea == D(120)
    used = dict(EarnRule.objects.values_list("code", "budget_used"))
    assert used["weekend-x2"] == weekend and used["tea-bonus"] == tea
    recorded = RuleAward.objects.filter(rule__campaign_link__campaign=campaign, cancelled=False)
    assert sum(recorded.values_list("points", flat=True), D(0)) == tea
    assert all(
        r.result.earned_points == D(50)
        for r, k in zip(results, kinds, strict=True)
        if k == "weekday"
    )
    assert_consistent(SATURDAY, *accounts)
