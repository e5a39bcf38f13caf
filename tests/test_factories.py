"""Every model of the project has a factory in tests/factories.py that saves a valid row."""

import factory
import pytest
from django.apps import apps

from tests import factories

pytestmark = pytest.mark.django_db

OUR_APPS = {"customers", "rules", "ledger", "api", "campaigns", "notifications", "reports", "core"}


def _factories_by_model():
    found = {}
    for value in vars(factories).values():
        if (
            isinstance(value, type)
            and issubclass(value, factory.django.DjangoModelFactory)
            and value._meta.model is not None
        ):
            model = value._meta.get_model_class()
            found[model._meta.label] = value
    return found


def _our_models():
    return sorted(
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label in OUR_APPS
        and not model._meta.label.split(".")[1].startswith("Historical")  # simple_history
    )


def test_every_model_has_a_factory():
    missing = set(_our_models()) - set(_factories_by_model())
    assert not missing, f"add factories for {sorted(missing)} to tests/factories.py"


# Defaults that would collide with shipped rows or that other apps' tests rely on being empty.
OVERRIDES = {
    "notifications.Template": lambda: {"program": factories.ProgramFactory()},
    "rules.ProductSet": lambda: {"categories": ["coffee"]},
}


@pytest.mark.parametrize("label", _our_models())
def test_each_factory_saves_a_row_that_passes_validation(label):
    factory_class = _factories_by_model().get(label)
    if factory_class is None:
        pytest.fail(f"no factory for {label}")
    obj = factory_class(**OVERRIDES.get(label, dict)())
    obj.refresh_from_db()
    # Unique fields are excluded: get_or_create factories may share rows on purpose.
    obj.full_clean(validate_unique=False)
    assert type(obj)._default_manager.filter(pk=obj.pk).exists()
