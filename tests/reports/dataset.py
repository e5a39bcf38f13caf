"""A small programme whose November 2026 figures are worked out by hand (see EXPECTED).

Programme "coffee": Europe/Moscow, base 5 % / silver 10 % from 1000 spent, whole points,
1 point = 1.00, redemption up to 30 %, gross margin 0.5. Every movement goes through the
ledger's services. Members (join date → what they do):

- I  Oct 1  +100 adjusted with a 30-day life; expires on Nov 2 (expired 100 in November)
- E  Oct 5  check 100 (earn 5); Nov 25 check 200 (earn 10)          — control group
- G  Oct 15 check 500 (earn 25); refunded in full on Nov 8 (claw 25)  — control group
- C  Oct 20 check 400 (earn 20); Nov 12 check 600 (earn 30)           — target
- F  Oct 28 check 300 (earn 15) uploaded by an offline till on Nov 25 (account opened then)
- D  Nov 1 00:30 local (Oct 31 UTC) 200, Nov 2 200, Nov 3 200 (earn 10 each); Nov 20
     2 × 500 redeeming 30 (earn 5 % of 970 = 48); one unit refunded Nov 28 (restore 15,
     claw 24, goods 500.00)                                          — target
- A  Nov 5  account only; +5 adjusted Nov 6; +7 granted Dec 3 (after the period) — target
- B  Nov 10 check 1000 (earn 50) + 20 from the campaign's rule; −10 adjusted Nov 21 — target
- H  Nov 14 check 800 (earn 40), cancelled Nov 15 (claw 40): joined, never active
- anonymous: Oct 10 100; Nov 10 300; Nov 11 500; Nov 12 999 cancelled
- campaign "winback": launched Oct 25, ends Dec 1; target A B C D, control E G
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from loyalty.ledger import services
from loyalty.ledger.models import Account
from loyalty.ledger.services import check_commit, points_expire
from loyalty.rules.engine import LineInput
from tests.factories import (
    CampaignFactory,
    CampaignMemberFactory,
    CampaignRuleFactory,
    CustomerFactory,
    EarnRuleFactory,
    OutletFactory,
    ProgramFactory,
    RedemptionPolicyFactory,
    TierFactory,
)

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 12, 15, 12, 0, tzinfo=MSK)


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(datetime(2026, month, day).date(), time(hour, minute), tzinfo=MSK)


def D(value) -> Decimal:
    return Decimal(str(value))


def lines(amount, qty=1):
    price = D(amount) / qty
    return [
        LineInput(
            sku="LATTE",
            category="coffee",
            name="Latte",
            quantity=D(qty),
            price=price,
            amount=D(amount),
        )
    ]


class Builder:
    def __init__(self, program, outlet):
        self.program, self.outlet = program, outlet
        self.n = 0

    def check(self, customer, amount, when, *, now=None, qty=1, redeem=None, outlet=None):
        self.n += 1
        outlet = outlet or self.outlet
        return check_commit(
            program=self.program,
            outlet=outlet,
            customer=customer,
            lines=lines(amount, qty),
            redeem=redeem,
            receipt_number=f"R{self.n}",
            source=f"outlet:{outlet.pk}",
            idempotency_key=f"k{self.n}",
            now=now or when,
            occurred_at=when if now else None,
        ).check

    def account(self, customer, when):
        return services.account_open(program=self.program, customer=customer, now=when)

    def refund(self, check, when, lines=None):
        self.n += 1
        return services.check_refund(
            check=check,
            lines=lines,
            full=lines is None,
            source="test",
            idempotency_key=f"refund{self.n}",
            now=when,
        )

    def cancel(self, check, when):
        self.n += 1
        return services.check_cancel(
            check=check, source="test", idempotency_key=f"cancel{self.n}", now=when
        )

    def adjust(self, account, pts, when, **kw):
        return services.points_adjust(
            account=account, points=D(pts), reason="test", created_by=None, now=when, **kw
        )

    def grant(self, account, pts, when, **kw):
        self.n += 1
        return services.points_grant(
            account=account,
            points=D(pts),
            source="test",
            idempotency_key=f"grant{self.n}",
            now=when,
            **kw,
        )


def make_program(code="coffee"):
    program = ProgramFactory(
        code=code,
        timezone="Europe/Moscow",
        lifetime_days=365,
        hold_days=0,
        gross_margin=D("0.5"),
    )
    TierFactory(program=program, code="base", rank=0, threshold=D(0), earn_percent=D(5))
    TierFactory(program=program, code="silver", rank=1, threshold=D(1000), earn_percent=D(10))
    RedemptionPolicyFactory(program=program, max_share=D("0.30"))
    return program


def build():
    """The dataset; returns a namespace of its objects."""
    program = make_program()
    outlet = OutletFactory(program=program, code="msk-1", name="Tverskaya 1")
    second = OutletFactory(program=program, code="msk-2", name="Arbat 2")
    b = Builder(program, outlet)
    people = {name: CustomerFactory(first_name=name) for name in "ABCDEFGHI"}
    acc = {}

    def account(name):
        return Account.objects.get(program=program, customer=people[name])

    # October
    acc["I"] = b.account(people["I"], at(10, 1))
    b.adjust(acc["I"], 100, at(10, 1), lifetime_days=30)
    b.check(people["E"], 100, at(10, 5))
    b.check(None, 100, at(10, 10))
    g_check = b.check(people["G"], 500, at(10, 15))
    b.check(people["C"], 400, at(10, 20))

    rule = EarnRuleFactory(
        program=program, code="winback-bonus", kind="fixed_per_item", is_active=False
    )
    campaign = CampaignFactory(
        program=program,
        code="winback",
        name="Win-back",
        starts_at=at(10, 25),
        ends_at=at(12, 1, 0),
        launched_at=at(10, 25),
        status="running",
    )
    CampaignRuleFactory(campaign=campaign, rule=rule)

    # November
    d1 = b.check(people["D"], 200, at(11, 1, 0, 30))
    b.check(people["D"], 200, at(11, 2))
    points_expire(now=at(11, 2, 13), program_id=program.pk)
    b.check(people["D"], 200, at(11, 3), outlet=second)
    acc["A"] = b.account(people["A"], at(11, 5))
    b.adjust(acc["A"], 5, at(11, 6))
    b.refund(g_check, at(11, 8))
    b.check(people["B"], 1000, at(11, 10))
    b.grant(account("B"), 20, at(11, 10, 13), rule=rule)
    b.check(None, 300, at(11, 10))
    b.check(None, 500, at(11, 11))
    anon_cancelled = b.check(None, 999, at(11, 12))
    b.cancel(anon_cancelled, at(11, 12, 15))
    b.check(people["C"], 600, at(11, 12), outlet=second)
    h_check = b.check(people["H"], 800, at(11, 14))
    b.cancel(h_check, at(11, 15))
    d_big = b.check(people["D"], 1000, at(11, 20), qty=2, redeem=D(30))
    b.adjust(account("B"), -10, at(11, 21))
    b.check(people["E"], 200, at(11, 25))
    b.check(people["F"], 300, at(10, 28), now=at(11, 25))  # offline upload
    b.refund(d_big, at(11, 28), lines=[(0, D(1))])

    # After the period
    b.grant(acc["A"], 7, at(12, 3))

    for name in "ABCD":
        CampaignMemberFactory(campaign=campaign, account=account(name), assigned_at=at(10, 25))
    for name in "EG":
        CampaignMemberFactory(
            campaign=campaign, account=account(name), is_control=True, assigned_at=at(10, 25)
        )

    class Data:
        pass

    data = Data()
    data.program, data.outlet, data.second, data.campaign = program, outlet, second, campaign
    data.builder, data.people, data.d1 = b, people, d1
    return data


EXPECTED = {
    "program": "coffee",
    "from": "2026-11-01",
    "to": "2026-11-30",
    "currency": "RUB",
    "members": {"total": 9, "new": 4, "active": 4, "by_tier": {"base": 6, "silver": 3}},
    "checks": {"member": 7, "anonymous": 2, "participation_rate": "0.7778"},
    "sales": {"member": "3400.00", "anonymous": "800.00", "refunded": "1000.00"},
    "average_check": {"member": "485.71", "anonymous": "400.00"},
    "frequency": "1.7500",
    "repeat_rate": "0.2500",
    "retention_rate": "0.5000",
    "ltv": "411.11",
    "points": {
        "issued": "228",
        "redeemed": "30",
        "expired": "100",
        "clawed_back": "89",
        "restored": "15",
        "adjusted": "-5",
        "outstanding": "184",
        "liability": "184.00",
    },
    "redemption_rate": "0.1316",
    "campaigns": [
        {
            "code": "winback",
            "target_members": 4,
            "control_members": 2,
            "target_buyers": 3,
            "control_buyers": 1,
            "target_conversion": "0.7500",
            "control_conversion": "0.5000",
            "target_sales_per_member": "800.00",
            "control_sales_per_member": "100.00",
            "uplift_sales": "2800.00",
            "points_cost": "20",
            "cost": "20.00",
            "roi": "69.0000",
        }
    ],
}
