"""``manage.py customer_erase <id> --reason … --by <staff username>``: erase a person's data."""

import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core import errors
from customers.models import Customer
from notifications.erasure import customer_erase


class Command(BaseCommand):
    help = "Erase a customer's personal data on request (idempotent); the ledger is kept."

    def add_arguments(self, parser):
        parser.add_argument("customer", help="customer id (number) or public id (uuid)")
        parser.add_argument("--reason", required=True, help="why, e.g. the request's number")
        parser.add_argument("--by", required=True, help="username of the staff member")

    def handle(self, *args, customer, reason, by, **options):
        rows = Customer.objects.all()
        if customer.isdigit():
            found = rows.filter(pk=int(customer)).first()
        else:
            try:
                found = rows.filter(public_id=uuid.UUID(customer)).first()
            except ValueError:
                found = None
        if found is None:
            raise CommandError(f"No customer {customer!r}.")
        user = get_user_model().objects.filter(username=by, is_staff=True).first()
        if user is None:
            raise CommandError(f"No staff user {by!r}.")
        try:
            record = customer_erase(customer=found, reason=reason, by=user, now=timezone.now())
        except errors.ValidationFailed as exc:
            raise CommandError(str(exc.fields)) from None
        self.stdout.write(f"erased: customer {found.pk}, reference {record.reference}")
