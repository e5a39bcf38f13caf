"""Ledger descriptions are written once in English and shown in the reader's language."""

import pytest
from django.utils import translation

from loyalty.ledger.labels import description_text


@pytest.mark.parametrize(
    ("written", "russian"),
    [
        ("Check A-1", "Чек A-1"),
        ("Refund of check A-1", "Возврат по чеку A-1"),
        ("Cancellation of check A-1", "Отмена чека A-1"),
        ("Reservation of check A-1 released", "Снят резерв по чеку A-1"),
        ("Reward Free coffee", "Награда «Free coffee»"),
        ("Points expired", "Сгорело баллов"),
    ],
)
def test_the_ledgers_own_shapes_are_translated(written, russian):
    with translation.override("ru"):
        assert description_text(written) == russian
    with translation.override("en"):
        assert description_text(written) == written.replace(
            "Reward Free coffee", "Reward “Free coffee”"
        )


def test_other_texts_are_shown_as_written():
    with translation.override("ru"):
        assert description_text("Goodwill after a complaint") == "Goodwill after a complaint"
        assert description_text("") == ""
