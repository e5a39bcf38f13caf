from decimal import Decimal

import pytest
from django.utils import translation

from cabinet.formatting import points_unit


@pytest.mark.parametrize(
    ("amount", "russian", "english"),
    [
        ("1", "балл", "point"),
        ("21", "балл", "points"),
        ("2", "балла", "points"),
        ("5", "баллов", "points"),
        ("11", "баллов", "points"),
        ("40", "баллов", "points"),
        ("0", "баллов", "points"),
        ("2.50", "балла", "points"),
    ],
)
def test_the_unit_agrees_with_the_number(amount, russian, english):
    with translation.override("ru"):
        assert points_unit(Decimal(amount)) == russian
    with translation.override("en"):
        assert points_unit(Decimal(amount)) == english
