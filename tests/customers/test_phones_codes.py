import threading
from datetime import timedelta

import pytest
from django.db import connection

from core import errors
from customers.codes import one_time_code_consume, one_time_code_issue
from customers.models import OneTimeCode
from customers.phones import phone_normalise
from tests.factories import CustomerFactory


@pytest.mark.parametrize(
    "raw",
    ["+7 999 123-45-67", "89991234567", "8 (999) 123 45 67", "9991234567", "+79991234567"],
)
def test_phone_normalise_common_formats(raw):
    assert phone_normalise(raw, region="RU") == "+79991234567"


@pytest.mark.parametrize("raw", ["", "   ", "abc", "123", "+7999", None, 79991234567])
def test_phone_normalise_rejects_bad_input_naming_the_field(raw):
    with pytest.raises(errors.ValidationFailed) as exc:
        phone_normalise(raw, region="RU", field="customer.phone")
    assert list(exc.value.fields) == ["customer.phone"]


def test_phone_normalise_uses_region():
    assert phone_normalise("030 123456", region="DE") == "+4930123456"


@pytest.mark.django_db
def test_code_issue_stores_digest_and_consumes_once(now):
    customer = CustomerFactory()
    code = one_time_code_issue(customer=customer, purpose="till", now=now)
    assert len(code) == 6 and code.isdigit()
    row = OneTimeCode.objects.get(customer=customer)
    assert code not in row.code_digest
    assert row.expires_at == now + timedelta(seconds=300)
    assert one_time_code_consume(code=code, purpose="till", now=now) == customer
    with pytest.raises(errors.CustomerNotFound):
        one_time_code_consume(code=code, purpose="till", now=now)


@pytest.mark.django_db
def test_code_expires_and_is_bound_to_purpose_and_customer(now):
    customer, other = CustomerFactory(), CustomerFactory()
    code = one_time_code_issue(customer=customer, purpose="till", now=now, ttl_seconds=60)
    with pytest.raises(errors.CustomerNotFound):
        one_time_code_consume(code=code, purpose="signup", now=now)
    with pytest.raises(errors.CustomerNotFound):
        one_time_code_consume(code=code, purpose="till", now=now, customer=other)
    with pytest.raises(errors.CustomerNotFound):
        one_time_code_consume(code=code, purpose="till", now=now + timedelta(seconds=60))
    assert one_time_code_consume(code=code, purpose="till", now=now, customer=customer) == customer


@pytest.mark.django_db
def test_new_code_invalidates_the_previous_unused_one(now):
    customer = CustomerFactory()
    first = one_time_code_issue(customer=customer, purpose="till", now=now)
    second = one_time_code_issue(customer=customer, purpose="till", now=now + timedelta(seconds=1))
    later = now + timedelta(seconds=2)
    if first != second:
        with pytest.raises(errors.CustomerNotFound):
            one_time_code_consume(code=first, purpose="till", now=later)
    assert one_time_code_consume(code=second, purpose="till", now=later) == customer
    assert OneTimeCode.objects.filter(customer=customer, expires_at__gt=later).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["", "12345", "abcdef", "1234567", None])
def test_consume_malformed_code(bad, now):
    with pytest.raises(errors.CustomerNotFound):
        one_time_code_consume(code=bad, purpose="till", now=now)


@pytest.mark.django_db(transaction=True)
def test_code_cannot_be_consumed_twice_concurrently(on_postgres, now):
    customer = CustomerFactory()
    code = one_time_code_issue(customer=customer, purpose="till", now=now)
    barrier = threading.Barrier(4)
    outcomes = []

    def consume():
        try:
            barrier.wait()
            one_time_code_consume(code=code, purpose="till", now=now)
            outcomes.append("ok")
        except errors.CustomerNotFound:
            outcomes.append("not_found")
        finally:
            connection.close()

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["not_found", "not_found", "not_found", "ok"]
