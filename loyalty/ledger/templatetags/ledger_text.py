from django import template

from loyalty.ledger.labels import description_text

register = template.Library()


@register.filter
def ledger_description(value):
    """An operation's description in the reader's language (``loyalty.ledger.labels``)."""
    return description_text(value or "")
