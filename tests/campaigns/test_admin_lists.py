"""The campaign list costs the same queries for any number of rows, with the same figures."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.admin.campaigns import with_list_figures
from campaigns.audience import campaign_audience_size
from campaigns.models import Campaign
from campaigns.services import campaign_figures
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    CampaignMemberFactory,
    CampaignRuleFactory,
    EarnRuleFactory,
    OperationFactory,
    ProgramFactory,
    RuleAwardFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

pytestmark = pytest.mark.django_db


def campaigns(program, n, start=0):
    segment = SegmentFactory(program=program, code=f"seg-{start}")
    accounts = [AccountFactory(program=program) for _ in range(3)]
    for account in accounts[:2]:
        SegmentMembershipFactory(segment=segment, account=account)
    for i in range(start, start + n):
        campaign = CampaignFactory(
            program=program,
            code=f"c-{i}",
            segment=segment if i % 2 else None,
            budget_points=Decimal("1000") if i % 3 else None,
        )
        rule = EarnRuleFactory(program=program, code=f"r-{i}", budget_used=Decimal("40"))
        CampaignRuleFactory(campaign=campaign, rule=rule)
        operation = OperationFactory(account=accounts[0])
        RuleAwardFactory(operation=operation, rule=rule, points=Decimal(i + 5))
        RuleAwardFactory(operation=operation, rule=rule, points=Decimal("99"), cancelled=True)
        for j, account in enumerate(accounts):
            CampaignMemberFactory(campaign=campaign, account=account, is_control=j == 2)


def list_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("admin:campaigns_campaign_changelist")).status_code == 200
    return len(ctx.captured_queries)


def test_the_campaign_list_is_constant_in_rows(admin_client):
    program = ProgramFactory(code="coffee")
    campaigns(program, 2)
    few = list_queries(admin_client)
    campaigns(program, 10, start=2)
    assert list_queries(admin_client) == few


def test_the_list_figures_equal_the_services(admin_client):
    program = ProgramFactory(code="coffee")
    campaigns(program, 4)
    for row in with_list_figures(Campaign.objects.all()):
        size, figures = campaign_audience_size(row), campaign_figures(row)
        assert row.list_audience == size.audience
        assert row.list_spent == figures.spent > 0
        left = None if row.budget_points is None else row.budget_points - row.list_budget_used
        assert left == figures.budget_left
