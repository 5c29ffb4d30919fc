"""The adapters' shared toolkit (``adapters/tools.py``)."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from odoo.tests.common import BaseCase

from ..adapters import tools
from ..errors import PermanentError


class TestAdapterTools(BaseCase):
    def test_decimals(self):
        self.assertEqual(tools.parse_decimal("12.50"), Decimal("12.50"))
        self.assertEqual(tools.parse_decimal(3), Decimal(3))
        for value in (True, None, [1], {"a": 1}):
            with self.assertRaises(TypeError):
                tools.parse_decimal(value)
        with self.assertRaises(ValueError):
            tools.parse_decimal("twelve")
        for value in ("NaN", "Infinity", float("inf")):
            with self.assertRaises(tools.NotFiniteError):
                tools.parse_decimal(value)
        self.assertEqual(tools.json_number(Decimal("2.0")), 2)
        self.assertIsInstance(tools.json_number(Decimal("2.0")), int)
        self.assertEqual(tools.json_number(Decimal("2.5")), 2.5)
        self.assertEqual(tools.whole_number(3.0), 3)
        self.assertIsNone(tools.whole_number(2.5))
        self.assertIsNone(tools.whole_number(True))

    def test_readers(self):
        self.assertEqual(
            tools.compact({"a": 0, "b": None, "c": "", "d": []}),
            {
                "a": 0,
                "d": [],
            },
        )
        self.assertEqual(tools.email_or_none("ada@example.com"), "ada@example.com")
        self.assertIsNone(tools.email_or_none("ada at example"))
        self.assertEqual(tools.country_or_none("GB"), "GB")
        self.assertIsNone(tools.country_or_none("gb"))
        error = tools.invalid_payload("bad", "$.lines[0]")
        self.assertEqual(
            (error.kind, error.json_path), ("invalid_payload", "$.lines[0]")
        )
        paris = timezone(timedelta(hours=1))
        self.assertEqual(
            tools.naive_utc(datetime(2025, 3, 1, 10, 0, tzinfo=paris)),
            datetime(2025, 3, 1, 9, 0),
        )
        self.assertEqual(
            tools.naive_utc(datetime(2025, 3, 1, 9, 0)), datetime(2025, 3, 1, 9, 0)
        )

    def test_outbound(self):
        self.assertEqual(list(tools.chunks([1, 2, 3, 4, 5], 2)), [[1, 2], [3, 4], [5]])
        self.assertEqual(
            tools.stock_result({"sku": "A"}, "ok", 3),
            {"sku": "A", "status": "ok", "actual_quantity": 3, "message": ""},
        )
        self.assertEqual(
            tools.base64_signature("secret", b"body"),
            "3EaYNVf+oSe0OvchRn65s/3iM4/j4U9RlSqoR4wT01U=",
        )

    def test_pulled_canonical_orders(self):
        orders, following = tools.pulled_canonical_orders(
            {"orders": [{"external_id": 7, "updated_at": "T"}], "next": None},
            "next",
            str | type(None),
        )
        self.assertIsNone(following)
        self.assertEqual(
            list(orders),
            [
                {
                    "topic": "order",
                    "event_id": "pull:7:T",
                    "external_ref": "7",
                    "payload": {"external_id": 7, "updated_at": "T"},
                }
            ],
        )
        with self.assertRaises(PermanentError):
            tools.pulled_canonical_orders({"orders": {}}, "next", str | type(None))
        orders, _following = tools.pulled_canonical_orders(
            {"orders": [{"external_id": "1"}, {"name": "no id"}], "next": None},
            "next",
            str | type(None),
        )
        self.assertEqual(next(orders)["external_ref"], "1")
        with self.assertRaises(PermanentError):
            next(orders)
