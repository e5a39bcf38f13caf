"""The campaigns app's scheduled jobs, each recorded through ``core.runs.job_run``.

* segments: nightly membership refresh of every segment, then the audience draw of live
  campaigns and the RFM scores (one run per day);
* tick: every minute, launch and finish campaigns on schedule and send launch messages;
* birthday: hourly, so every programme's time zone gets its day on time (one run per hour;
  the keys make the bonus once per birthday anyway);
* win-back and the referral sweep: daily.
"""

from __future__ import annotations

from datetime import datetime

from campaigns.audience import campaign_audience_assign
from campaigns.models import Campaign, CampaignStatus
from campaigns.rfm import rfm_refresh
from campaigns.segments import segments_refresh
from campaigns.services import campaigns_tick
from campaigns.triggers import birthday_bonuses, referrals_sweep, winback_bonuses
from core.runs import RunHandle, job_run
from loyalty.ledger.jobs import day_key, hour_key
from loyalty.rules.models import Program

LIVE = (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.PAUSED)


def segments_job(*, now: datetime) -> RunHandle:
    with job_run("campaigns.segments_refresh", day_key(now), now=now) as run:
        if run.skipped:
            return run
        result = segments_refresh(now=now)
        drawn = 0
        for campaign in Campaign.objects.filter(status__in=LIVE).select_related("program"):
            drawn += campaign_audience_assign(campaign, now=now).assigned
        rfm = 0
        for program in Program.objects.filter(is_active=True):
            rfm += rfm_refresh(program=program, now=now).accounts
        run.rows = result.joined + result.left
        run.details = {
            "segments": result.segments,
            "joined": result.joined,
            "left": result.left,
            "segment_seconds": round(result.seconds, 3),
            "campaign_members_drawn": drawn,
            "rfm_accounts": rfm,
        }
    return run


def tick_job(*, now: datetime) -> RunHandle:
    with job_run("campaigns.tick", now=now, quiet=True) as run:
        result = campaigns_tick(now=now)
        run.rows = len(result.launched) + len(result.finished) + result.messages
        run.details = {
            "launched": ", ".join(result.launched),
            "finished": ", ".join(result.finished),
            "messages": result.messages,
            "failed": ", ".join(result.failed),
        }
    return run


def birthday_job(*, now: datetime) -> RunHandle:
    with job_run("campaigns.birthday", hour_key(now), now=now) as run:
        if not run.skipped:
            result = birthday_bonuses(now=now)
            run.rows = result.granted
            run.details = {"granted": result.granted, "over_budget": result.over_budget}
    return run


def winback_job(*, now: datetime) -> RunHandle:
    with job_run("campaigns.winback", day_key(now), now=now) as run:
        if not run.skipped:
            result = winback_bonuses(now=now)
            swept = referrals_sweep(now=now)
            run.rows = result.granted + swept
            run.details = {
                "granted": result.granted,
                "over_budget": result.over_budget,
                "referrals_swept": swept,
            }
    return run
