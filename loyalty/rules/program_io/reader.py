"""Type checks and model validation of a programme file, every problem named by its JSON path.

A ``Reader`` collects problems rather than raising them, so a file reports all of them at once;
``raise_problems`` then turns them into one ValidationFailed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from core import errors

Problems = dict[str, list[str]]


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Reader:
    """Type checks with JSON paths; every problem is collected, none raised."""

    def __init__(self) -> None:
        self.problems: Problems = {}

    def add(self, path: str, message: str) -> None:
        self.problems.setdefault(path, []).append(message)

    def raise_problems(self) -> None:
        """Raise ValidationFailed (``fields``: JSON path → messages) if any problem was found."""
        if self.problems:
            raise errors.ValidationFailed(
                "The programme definition is invalid.", fields=dict(sorted(self.problems.items()))
            )

    def obj(self, value, path: str, allowed: set[str], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            self.add(path or "$", "Must be an object.")
            return {}
        for key in sorted(set(value) - set(allowed)):
            self.add(join(path, key), "Unknown key.")
        for key in required:
            if key not in value:
                self.add(join(path, key), "This key is required.")
        return value

    def list(self, value, path: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, "Must be a list.")
            return []
        return value

    def text(self, value, path: str, *, blank: bool = False) -> str:
        if value is None and blank:
            return ""
        if not isinstance(value, str) or (not blank and not value.strip()):
            self.add(path, "Must be a non-empty string." if not blank else "Must be a string.")
            return ""
        return value

    def integer(self, value, path: str, *, null: bool = False, minimum: int | None = 0):
        if value is None and null:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self.add(path, "Must be a whole number" + (" or null." if null else "."))
            return None
        if minimum is not None and value < minimum:
            self.add(path, f"Must be {minimum} or more.")
            return None
        return value

    def boolean(self, value, path: str) -> bool:
        if not isinstance(value, bool):
            self.add(path, "Must be true or false.")
            return False
        return value

    def decimal(self, value, path: str, *, null: bool = False) -> Decimal | None:
        if value is None and null:
            return None
        # Floats are refused: 0.1 in JSON is not 0.1 once parsed; the format uses strings.
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.add(path, 'Must be a decimal string like "0.30"' + (" or null." if null else "."))
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            self.add(path, f"{value!r} is not a decimal number.")
            return None
        return number

    def instant(self, value, path: str) -> datetime | None:
        if value is None:
            return None
        try:
            at = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            at = None
        if at is None:
            self.add(path, 'Must be an ISO 8601 date-time like "2026-03-01T00:00:00+03:00".')
        elif at.tzinfo is None:
            self.add(path, "Must include a time-zone offset (like +03:00 or Z).")
            return None
        return at

    def codes(self, value, path: str, known: set[str] | None, what: str) -> list[str]:
        result = []
        for i, code in enumerate(self.list(value, path)):
            item = f"{path}[{i}]"
            if not isinstance(code, str) or not code:
                self.add(item, "Must be a non-empty string.")
            elif known is not None and code not in known:
                self.add(item, f"No {what} with code {code!r} in this file.")
            elif code in result:
                self.add(item, f"{code!r} is listed twice.")
            else:
                result.append(code)
        return result

    def unique_codes(self, items: list, path: str) -> set[str]:
        """The codes of the list's objects; a code used twice is a problem."""
        codes: set[str] = set()
        for i, item in enumerate(items):
            code = item.get("code") if isinstance(item, dict) else None
            if isinstance(code, str) and code:
                if code in codes:
                    self.add(f"{path}[{i}].code", f"The code {code!r} is used twice.")
                codes.add(code)
        return codes

    def full_clean(self, obj, path: str, keys: dict[str, str], exclude=()) -> bool:
        """The model's own validation; its messages go to the JSON paths of ``keys`` (model
        field → JSON key), the others to the object's path."""
        try:
            obj.full_clean(exclude=list(exclude))
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                if field == "__all__" or field not in keys:
                    target = path or "$"
                else:
                    target = join(path, keys[field])
                for message in messages:
                    self.add(target, str(message))
            return False
        return True
