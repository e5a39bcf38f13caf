"""The OpenAPI schema says what the server accepts (issue 13, item 11; checked by
tests/api/test_schemathesis.py with every schemathesis check).

drf-spectacular describes DRF's own fields; ours are stricter and say so here:
- a decimal is a plain string of bounded digits, or a JSON number within the column;
- a string field rejects NUL and, unless it may be blank, a value that is only spaces
  (DRF trims before checking);
- request objects reject unknown properties (``StrictSerializer``), a customer identifier
  has exactly one property, lists have their bounds;
- a phone is ``format: phone``: any common spelling the programme's region parses.
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

NO_NUL = r"^[^\u0000]*$"
NOT_BLANK = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
MAX_DECIMAL_TEXT = 64


def decimal_pattern(*, whole: int, places: int, positive: bool) -> str:
    """A regex for what ``PlainDecimalField`` takes as a string (leading zeros included)."""
    fraction = rf"(\.[0-9]{{1,{places}}})?"
    if not positive:
        return rf"^0*[0-9]{{1,{whole}}}{fraction}$"
    nonzero_fraction = "|".join(
        "0" * zeros + "[1-9]" + (f"[0-9]{{0,{places - zeros - 1}}}" if places - zeros > 1 else "")
        for zeros in range(places)
    )
    return rf"^0*([1-9][0-9]{{0,{whole - 1}}}{fraction}|0\.({nonzero_fraction}))$"


class PlainDecimalFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "loyalty.api.serializers.PlainDecimalField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        places = field.decimal_places
        whole = field.max_digits - places
        minimum = field.min_value if field.min_value is not None else Decimal(0)
        maximum = field.max_value if field.max_value is not None else Decimal(10**whole) - 1
        step = float(Decimal(1).scaleb(-places))
        return {
            "oneOf": [
                {
                    "type": "string",
                    "pattern": decimal_pattern(whole=whole, places=places, positive=minimum > 0),
                    "maxLength": MAX_DECIMAL_TEXT,
                },
                {
                    "type": "number",
                    "minimum": float(minimum),
                    "maximum": float(maximum),
                    "multipleOf": step,
                },
            ],
            "example": "2" if places == 3 else "250.00",
        }


class StringOnlyFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "loyalty.api.serializers.StringOnly"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        variants = schema.get("oneOf") or [schema]
        for variant in variants:
            if variant.get("type") == "string" and "format" not in variant:
                blank = getattr(self.target, "allow_blank", False)
                if variant.get("maxLength") == 0:
                    continue
                variant.setdefault("pattern", NO_NUL if blank else NOT_BLANK)
        if isinstance(self.target, serializers.SlugField):
            schema["pattern"] = r"^[-a-zA-Z0-9_]+$"
        if getattr(self.target, "field_name", "") == "phone":
            schema["format"] = "phone"
            schema.pop("pattern", None)
        return schema


def _strict_objects(schema: dict, components: dict) -> None:
    for name, component in components.items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
            for prop_name, prop in component.get("properties", {}).items():
                component["properties"][prop_name] = _blank_without_one_of(prop)


def _blank_without_one_of(prop: dict) -> dict:
    """drf-spectacular describes a blank-allowed string as ``oneOf: [string, maxLength 0]``;
    "" matches both, which oneOf forbids. Without a format the first alone says it all."""
    variants = prop.get("oneOf") or []
    if len(variants) != 2 or variants[1] != {"type": "string", "maxLength": 0}:
        return prop
    if "format" in variants[0]:
        return prop
    return {**{k: v for k, v in prop.items() if k != "oneOf"}, **variants[0]}


IDENTIFIERS = ("phone", "card", "code", "id")


def _identifier_as_one_parameter(operation: dict) -> None:
    """GET /customers/lookup takes exactly one of four query parameters: in OpenAPI, one
    object parameter (form style, exploded: ``?phone=…``) with exactly one property."""
    params = operation.get("parameters", [])
    picked = [p for p in params if p["in"] == "query" and p["name"] in IDENTIFIERS]
    if not picked:
        return
    properties = {}
    for parameter in picked:
        schema = dict(parameter.get("schema", {}))
        if parameter.get("description"):
            schema["description"] = parameter["description"]
        if "format" not in schema:
            schema.update(minLength=1, pattern=NOT_BLANK)
        properties[parameter["name"]] = schema
    properties["phone"] = {**properties["phone"], "format": "phone", "maxLength": 32}
    properties["card"]["maxLength"] = 32
    properties["code"].update(minLength=6, maxLength=6)
    properties["phone"].pop("pattern", None)
    operation["parameters"] = [p for p in params if p not in picked] + [
        {
            "name": "identifier",
            "in": "query",
            "required": True,
            "style": "form",
            "explode": True,
            "description": "Exactly one of phone, card, code, id (as ?phone=…).",
            "schema": {
                "type": "object",
                "properties": properties,
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": False,
            },
        }
    ]


def postprocess(result, generator, request, public):
    """Whole-document rules drf-spectacular has no per-field hook for."""
    components = result.get("components", {}).get("schemas", {})
    _strict_objects(result, components)
    ref = components.get("CustomerRefRequest")
    if ref is not None:
        # "exactly one of phone, card, code, id"
        ref["minProperties"] = 1
        ref["maxProperties"] = 1
    for name, field, low, high in (
        ("CheckCalculateInputRequest", "lines", 1, 500),
        ("CheckCommitInputRequest", "lines", 1, 500),
        ("CheckRefundInputRequest", "lines", 1, None),
    ):
        prop = components.get(name, {}).get("properties", {}).get(field)
        if prop is not None:
            prop["minItems"] = low
            if high:
                prop["maxItems"] = high
    refund = components.get("CheckRefundInputRequest")
    if refund is not None:
        # Either lines or full: true, not both.
        refund["oneOf"] = [
            {"required": ["lines"], "properties": {"full": {"enum": [False]}}},
            {
                "required": ["full"],
                "properties": {"full": {"enum": [True]}},
                "not": {"required": ["lines"]},
            },
        ]
    lookup = result.get("paths", {}).get("/api/v1/customers/lookup", {}).get("get")
    if lookup is not None:
        _identifier_as_one_parameter(lookup)
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.setdefault("schema", {})
                if parameter["in"] == "header" and parameter["name"] == "Idempotency-Key":
                    schema["maxLength"] = 100
                    if parameter.get("required"):
                        # Any string up to 100 characters that is not only spaces (an optional
                        # key that is only spaces counts as no key).
                        schema.update(minLength=1, pattern=r"\S")
                elif parameter["in"] == "query" and schema.get("type") == "string":
                    # An empty value is refused like a wrong one.
                    schema.setdefault("minLength", 1)
                    if "format" not in schema:
                        schema.setdefault("pattern", NOT_BLANK)
    return result
