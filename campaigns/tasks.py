"""Celery doors for campaigns: read the clock, call one job or service, return its figures.

Database-only work, so no automatic retry: scheduled jobs are taken over by their next run,
and referral grants left pending are picked up by the daily sweep.
"""

from celery import shared_task
from django.utils import timezone

from campaigns import jobs, triggers


@shared_task(name="campaigns.segments_refresh")
def segments_refresh() -> dict:
    return jobs.segments_job(now=timezone.now()).details


@shared_task(name="campaigns.tick")
def tick() -> dict:
    return jobs.tick_job(now=timezone.now()).details


@shared_task(name="campaigns.birthday")
def birthday() -> dict:
    return jobs.birthday_job(now=timezone.now()).details


@shared_task(name="campaigns.winback")
def winback() -> dict:
    return jobs.winback_job(now=timezone.now()).details


@shared_task(name="campaigns.referral_grant")
def referral_grant(*, referral_id: int) -> str:
    return triggers.referral_grant(referral_id=referral_id, now=timezone.now()).status


@shared_task(name="campaigns.referral_reverse")
def referral_reverse(*, referral_id: int) -> str:
    return triggers.referral_reverse(referral_id=referral_id, now=timezone.now()).status
