from datetime import timedelta
from decimal import Decimal

from loyalty.ledger import services
from loyalty.ledger.models import Account
from loyalty.ledger.selectors import account_balance


def D(value) -> Decimal:
    return Decimal(str(value))


def grant(account, points, now, key=None, **kw):
    return services.points_grant(
        account=account,
        points=D(points),
        source="test",
        idempotency_key=key or f"g-{now.isoformat()}-{points}-{kw.get('lifetime_days')}",
        now=now,
        **kw,
    )


def balance(account, now):
    return account_balance(Account.objects.get(pk=account.pk), now=now)


def assert_consistent(now, *accounts):
    found = services.ledger_reconcile(now=now, account_ids=[a.pk for a in accounts] or None)
    assert found == [], [str(d) for d in found]


def days(n):
    return timedelta(days=n)
