"""Segment conditions against hand-built customers: each field, AND/OR, validation."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from campaigns.models import Segment
from campaigns.segments import conditions_validate, segment_accounts, segment_preview
from loyalty.ledger.models import CheckStatus
from tests.factories import (
    AccountFactory,
    CheckFactory,
    CustomerFactory,
    OutletFactory,
    ProgramFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db

D = Decimal


def days(n):
    return timedelta(days=n)


@pytest.fixture
def program():
    return ProgramFactory(code="coffee", timezone="Europe/Moscow")


@pytest.fixture
def people(program, now):
    """Five members with different histories."""
    base = TierFactory(program=program, code="base", rank=0)
    gold = TierFactory(program=program, code="gold", rank=1, threshold=D(10000))
    msk = OutletFactory(program=program, code="msk-1")
    spb = OutletFactory(program=program, code="spb-1")

    def member(name, **kw):
        customer = CustomerFactory(
            first_name=name,
            birth_date=kw.pop("birth_date", None),
            consent_sms=kw.pop("consent_sms", False),
            consent_email=kw.pop("consent_email", False),
        )
        return AccountFactory(program=program, customer=customer, **kw)

    sleepy = member(
        "sleepy",
        tier=base,
        last_purchase_at=now - days(120),
        enrolled_at=now - days(400),
        enrolled_outlet=msk,
        birth_date=date(1990, 6, 20),
        lifetime_visits=2,
        lifetime_spend=D("900"),
    )
    regular = member(
        "regular",
        tier=gold,
        last_purchase_at=now - days(3),
        enrolled_at=now - days(200),
        enrolled_outlet=spb,
        birth_date=date(1985, 1, 5),
        consent_sms=True,
        lifetime_visits=4,
        lifetime_spend=D("60000"),
    )
    newbie = member(
        "newbie",
        tier=base,
        enrolled_at=now - days(5),
        enrolled_outlet=msk,
        consent_email=True,
    )
    for ago, amount in ((3, "20000"), (20, "20000"), (40, "15000"), (200, "5000")):
        CheckFactory(account=regular, occurred_at=now - days(ago), payable=D(amount))
    # A cancelled check counts for nothing; a refund is netted.
    CheckFactory(
        account=regular, occurred_at=now - days(10), payable=D(9999), status=CheckStatus.CANCELLED
    )
    CheckFactory(account=sleepy, occurred_at=now - days(120), payable=D("900"))
    CheckFactory(
        account=sleepy,
        occurred_at=now - days(150),
        payable=D("1000"),
        refunded_amount=D("1000"),
        status=CheckStatus.REFUNDED,
    )
    other_program = AccountFactory(program=ProgramFactory(), last_purchase_at=now - days(500))
    return {"sleepy": sleepy, "regular": regular, "newbie": newbie, "other": other_program}


def names(conditions, program, now):
    conditions_validate(conditions)
    qs = segment_accounts(conditions, program=program, now=now)
    return sorted(a.customer.first_name for a in qs.select_related("customer"))


def cond(field, op, value=None, **kw):
    item = {"field": field, "op": op, **kw}
    if value is not None or op not in ("current",):
        item["value"] = value
    return {"all": [item]}


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (cond("recency_days", "gte", 90), ["sleepy"]),
        (cond("recency_days", "lte", 3), ["regular"]),
        (cond("recency_days", "lt", 3), []),
        (cond("recency_days", "between", [100, 130]), ["sleepy"]),
        (cond("frequency", "gte", 3, period_days=90), ["regular"]),
        (cond("frequency", "eq", 2, period_days=365), ["sleepy"]),  # refunded still counts
        (cond("frequency", "gte", 4), ["regular"]),  # lifetime counter
        (cond("frequency", "eq", 0), ["newbie"]),
        (cond("monetary", "gte", "55000", period_days=90), ["regular"]),
        (cond("monetary", "gt", "899.99", period_days=365), ["regular", "sleepy"]),
        (cond("monetary", "lt", "900", period_days=365), ["newbie"]),
        (cond("monetary", "gte", "50000"), ["regular"]),
        (cond("tier", "in", ["gold"]), ["regular"]),
        (cond("tier", "not_in", ["gold"]), ["newbie", "sleepy"]),
        (cond("registration_days", "lte", 30), ["newbie"]),
        (cond("registration_days", "gte", 365), ["sleepy"]),
        (cond("birthday_month", "in", [1, 2]), ["regular"]),
        (cond("birthday_month", "current"), ["sleepy"]),  # now is June
        (cond("birthday_month", "not_in", [6]), ["regular"]),
        (cond("enrolled_outlet", "in", ["msk-1"]), ["newbie", "sleepy"]),
        (cond("enrolled_outlet", "not_in", ["msk-1"]), ["regular"]),
        (cond("consent_sms", "is", True), ["regular"]),
        (cond("consent_email", "is", False), ["regular", "sleepy"]),
    ],
)
def test_each_field(program, people, now, conditions, expected):
    assert names(conditions, program, now) == expected


def test_and_or_groups(program, people, now):
    conditions = {
        "any": [
            {"field": "recency_days", "op": "gte", "value": 90},
            {
                "all": [
                    {"field": "tier", "op": "in", "value": ["gold"]},
                    {"field": "consent_sms", "op": "is", "value": True},
                ]
            },
        ]
    }
    assert names(conditions, program, now) == ["regular", "sleepy"]
    conditions["any"][1]["all"][1]["value"] = False
    assert names(conditions, program, now) == ["sleepy"]


def test_empty_conditions_mean_every_member_of_the_programme(program, people, now):
    assert names({}, program, now) == ["newbie", "regular", "sleepy"]
    assert names({"all": []}, program, now) == ["newbie", "regular", "sleepy"]
    assert names({"any": []}, program, now) == []


def test_birthday_month_follows_the_programme_time_zone(people, now):
    program = people["sleepy"].program
    # 31 May 22:30 UTC is already 1 June in Moscow.
    late_may = now.replace(month=5, day=31, hour=22, minute=30)
    assert names(cond("birthday_month", "current"), program, late_may) == ["sleepy"]
    program.timezone = "UTC"
    assert names(cond("birthday_month", "current"), program, late_may) == []


@pytest.mark.parametrize(
    ("conditions", "path"),
    [
        ({"both": []}, "conditions"),
        ({"all": {}}, "conditions.all"),
        ({"all": [{"field": "age", "op": "gte", "value": 3}]}, "conditions.all[0].field"),
        ({"all": [{"field": "tier", "op": "gte", "value": 3}]}, "conditions.all[0].op"),
        ({"all": [{"field": "tier", "op": "in", "value": []}]}, "conditions.all[0].value"),
        (
            {"any": [{"all": [{"field": "recency_days", "op": "gte", "value": -1}]}]},
            "conditions.any[0].all[0].value",
        ),
        (
            {"all": [{"field": "monetary", "op": "gte", "value": "lots"}]},
            "conditions.all[0].value",
        ),
        (
            {"all": [{"field": "recency_days", "op": "gte", "value": 3, "period_days": 9}]},
            "conditions.all[0].period_days",
        ),
        (
            {"all": [{"field": "birthday_month", "op": "in", "value": [13]}]},
            "conditions.all[0].value",
        ),
        (
            {"all": [{"field": "frequency", "op": "between", "value": [5, 2]}]},
            "conditions.all[0].value",
        ),
        (
            {"all": [{"field": "consent_sms", "op": "is", "value": "yes"}]},
            "conditions.all[0].value",
        ),
        (
            {"all": [{"field": "tier", "op": "in", "value": ["a"], "extra": 1}]},
            "conditions.all[0].extra",
        ),
    ],
)
def test_validation_names_the_path(conditions, path):
    with pytest.raises(ValidationError) as exc:
        conditions_validate(conditions)
    assert path in exc.value.message_dict, exc.value.message_dict


def test_preview_gives_live_size_and_sample(program, people, now):
    preview = segment_preview(cond("recency_days", "lte", 1000), program=program, now=now)
    assert preview.size == 2
    assert [a.customer.first_name for a in preview.sample] == ["regular", "sleepy"]


def test_builtin_segments_are_shipped():
    builtins = dict(
        Segment.objects.filter(program__isnull=True, is_builtin=True).values_list(
            "code", "conditions"
        )
    )
    assert set(builtins) == {"new", "regular", "sleeping", "vip"}
    for conditions in builtins.values():
        conditions_validate(conditions)


def test_purchase_outlet_with_and_without_a_period(program, now):
    msk = OutletFactory(program=program, code="msk-1")
    spb = OutletFactory(program=program, code="spb-1")

    def shopper(name, *visits):
        account = AccountFactory(program=program, customer=CustomerFactory(first_name=name))
        for outlet, ago, status in visits:
            CheckFactory(account=account, outlet=outlet, occurred_at=now - days(ago), status=status)
        return account

    done, cancelled = CheckStatus.COMPLETED, CheckStatus.CANCELLED
    shopper("recent-msk", (msk, 3, done))
    shopper("old-msk", (msk, 200, done), (spb, 2, done))
    shopper("void-msk", (msk, 1, cancelled))
    shopper("never")
    assert names(cond("purchase_outlet", "in", ["msk-1"]), program, now) == [
        "old-msk",
        "recent-msk",
    ]
    recent = cond("purchase_outlet", "in", ["msk-1"], period_days=30)
    assert names(recent, program, now) == ["recent-msk"]
    assert names(cond("purchase_outlet", "not_in", ["msk-1"]), program, now) == [
        "never",
        "void-msk",
    ]
    either = {
        "any": [
            {"field": "purchase_outlet", "op": "in", "value": ["spb-1"], "period_days": 7},
            {"field": "purchase_outlet", "op": "in", "value": ["msk-1"], "period_days": 7},
        ]
    }
    assert names(either, program, now) == ["old-msk", "recent-msk"]
