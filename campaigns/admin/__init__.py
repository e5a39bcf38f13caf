"""The marketer's door to segments, campaigns, offers and triggers, by model group.

Importing the package registers every admin (Django's autodiscovery imports ``campaigns.admin``).
"""

from campaigns.admin.campaigns import CampaignAdmin, CampaignForm, CampaignRuleInline
from campaigns.admin.offers import OfferAdmin, OfferRuleInline
from campaigns.admin.segments import RfmScoreAdmin, SegmentAdmin, SegmentForm
from campaigns.admin.triggers import ReferralAdmin, TriggerConfigAdmin, TriggerConfigForm

__all__ = [
    "CampaignAdmin",
    "CampaignForm",
    "CampaignRuleInline",
    "OfferAdmin",
    "OfferRuleInline",
    "ReferralAdmin",
    "RfmScoreAdmin",
    "SegmentAdmin",
    "SegmentForm",
    "TriggerConfigAdmin",
    "TriggerConfigForm",
]
