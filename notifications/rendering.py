"""Rendering a template's subject and body: Django template syntax, plain text.

A dedicated engine: no autoescape (messages are plain text), no template loaders (a marketer's
template cannot include files), the usual filters plus ``i18n``, ``l10n``, ``tz`` and
``humanize``. Contexts are plain dicts and Decimals, never model instances, so a template
cannot reach a method that changes data.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone, translation

ENGINE = Engine(
    autoescape=False,
    # ``points_unit``, ``points`` and ``money`` without a {% load %}: 1 балл, 2 балла, 5 баллов.
    builtins=["core.templatetags.kopilka"],
    libraries={
        "i18n": "django.templatetags.i18n",
        "l10n": "django.templatetags.l10n",
        "tz": "django.templatetags.tz",
        "humanize": "django.contrib.humanize.templatetags.humanize",
    },
)


class TemplateRenderError(Exception):
    pass


def render_text(
    *, subject: str, body: str, context: dict, language: str, time_zone: str
) -> tuple[str, str]:
    """(subject, body) rendered in ``language`` with dates in ``time_zone``.

    The subject is collapsed to one line. Raises TemplateRenderError with the reason.
    """
    try:
        with translation.override(language), timezone.override(ZoneInfo(time_zone)):
            ctx = Context(context, autoescape=False)
            rendered_subject = ENGINE.from_string(subject).render(ctx) if subject else ""
            rendered_body = ENGINE.from_string(body).render(ctx)
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(str(exc)) from exc
    except Exception as exc:  # a filter that fails on a sample value, a bad time zone
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc
    return re.sub(r"\s+", " ", rendered_subject).strip()[:255], rendered_body.strip()
