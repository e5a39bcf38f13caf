"""The system schedule: every periodic job the product needs, declared in code.

``sync.schedules_sync`` upserts these into django-celery-beat by ``name`` at every
``migrate`` (post_migrate) and with ``manage.py sync_schedules``. Entries are never deleted and
recreated: a missing entry is created with the times below, an existing one only gets its
``task`` path corrected. Times, ``expires`` and the enabled flag that staff set in the admin are
kept, so a deploy never undoes an operator's decision. Renaming an entry here creates a new one;
disable or delete the old one in the admin.

``expires`` (seconds) drops a run that waited in the broker longer than that — after an outage
beat does not replay a backlog of identical runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SystemSchedule:
    name: str
    task: str
    crontab: dict[str, str]
    expires: int
    description: str
    kwargs: dict = field(default_factory=dict)


HOUR = 3600

SYSTEM_SCHEDULES: tuple[SystemSchedule, ...] = (
    SystemSchedule(
        name="ledger: expire points",
        task="ledger.points_expire",
        crontab={"minute": "5", "hour": "*"},
        expires=50 * 60,
        description="Expire lots whose expiry has passed (hourly; one run per hour).",
    ),
    SystemSchedule(
        name="ledger: release lapsed reservations",
        task="ledger.reservations_release",
        crontab={"minute": "*"},
        expires=55,
        description="Write the release of two-phase payments neither confirmed nor cancelled "
        "in time (their points are available again by time alone already).",
    ),
    SystemSchedule(
        name="ledger: tier re-evaluation",
        task="ledger.tiers_reevaluate",
        crontab={"minute": "30", "hour": "2"},
        expires=6 * HOUR,
        description="Rolling-period tier qualification: downgrades after the grace period.",
    ),
    SystemSchedule(
        name="ledger: reconcile",
        task="ledger.reconcile",
        crontab={"minute": "0", "hour": "4"},
        expires=6 * HOUR,
        description="Check the ledger invariants; alert staff on any discrepancy.",
    ),
    SystemSchedule(
        name="notifications: expiry reminders",
        task="notifications.expiry_reminders",
        crontab={"minute": "0", "hour": "11"},
        expires=6 * HOUR,
        description="One message per customer about points expiring in N days.",
    ),
    SystemSchedule(
        name="notifications: dispatch outbox",
        task="notifications.messages_dispatch",
        crontab={"minute": "*"},
        expires=55,
        description="Send due messages: delayed by quiet hours, retries, lost leases.",
    ),
    SystemSchedule(
        name="campaigns: segment refresh",
        task="campaigns.segments_refresh",
        crontab={"minute": "15", "hour": "1"},
        expires=6 * HOUR,
        description="Segment membership, campaign audience draw and RFM scores (nightly).",
    ),
    SystemSchedule(
        name="campaigns: schedule",
        task="campaigns.tick",
        crontab={"minute": "*"},
        expires=55,
        description="Launch and finish campaigns on time; send launch messages.",
    ),
    SystemSchedule(
        name="campaigns: birthday bonus",
        task="campaigns.birthday",
        crontab={"minute": "20", "hour": "*"},
        expires=50 * 60,
        description="Birthday bonuses (hourly, so each programme's time zone gets its day).",
    ),
    SystemSchedule(
        name="campaigns: win-back and referrals",
        task="campaigns.winback",
        crontab={"minute": "40", "hour": "10"},
        expires=6 * HOUR,
        description="Win-back bonus for customers who just became sleeping; referral sweep.",
    ),
    SystemSchedule(
        name="reports: daily aggregates",
        task="reports.aggregate_days",
        crontab={"minute": "45", "hour": "0"},
        expires=12 * HOUR,
        description="Store yesterday's report figures and re-count days changed since.",
    ),
    SystemSchedule(
        name="core: data retention",
        task="core.retention",
        crontab={"minute": "50", "hour": "3"},
        expires=6 * HOUR,
        description="Delete old idempotency keys, delivered outbox messages and expired "
        "one-time codes (core/retention.py; periods in the RETENTION_* settings).",
    ),
)
