"""Absolute links for places outside a request (messages, printed URLs): on ``SITE_URL``."""

from django.conf import settings
from django.urls import reverse
from django.utils import translation


def absolute_url(path: str) -> str:
    """``path`` (``/cabinet/``) on the configured public base (``settings.SITE_URL``)."""
    return f"{settings.SITE_URL.rstrip('/')}/{path.lstrip('/')}"


def absolute_reverse(viewname: str, *, args=None, kwargs=None) -> str:
    """The absolute URL of a named view, in the default language (its path has no prefix)."""
    with translation.override(settings.LANGUAGE_CODE):
        return absolute_url(reverse(viewname, args=args, kwargs=kwargs))
