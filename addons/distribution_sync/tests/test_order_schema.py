from odoo.tests.common import TransactionCase

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.queue_job.tests.common import trap_jobs

from ..tools import schemas
from .common import OrderImportMixin


class TestOrderSchema(OrderImportMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()

    def assertInvalid(self, data, json_path):
        with self.assertRaises(PermanentError) as caught:
            schemas.validate("order", data)
        err = caught.exception
        self.assertEqual(err.kind, "invalid_payload")
        self.assertEqual(err.json_path, json_path)
        self.assertIn(json_path, err.message)
        return err

    def test_full_order_is_valid(self):
        data = self.order_payload(
            shipping_address={
                "name": "Charles Babbage",
                "company_name": "Difference Engines Ltd",
                "street": "1 Engine Street",
                "street2": "Floor 2",
                "city": "London",
                "zip": "SW1A 1AA",
                "state_code": "LND",
                "country_code": "GB",
                "phone": "+44 20 7946 0001",
                "email": "charles@example.com",
            },
        )
        data["customer"].update(company_name="Analytical Ltd", vat="GB123456789")
        self.assertEqual(schemas.validate("order", data), data)

    def test_smallest_order_is_valid(self):
        data = {
            "external_id": "1",
            "currency": "USD",
            "customer": {"name": "A"},
            "lines": [{"sku": "X", "quantity": 0.5, "unit_price": 0}],
        }
        self.assertEqual(schemas.validate("order", data), data)

    def test_missing_lines(self):
        data = self.order_payload()
        del data["lines"]
        err = self.assertInvalid(data, "$")
        self.assertIn("'lines' is a required property", err.message)

    def test_empty_lines(self):
        self.assertInvalid(self.order_payload(lines=[]), "$.lines")

    def test_zero_quantity(self):
        data = self.order_payload()
        data["lines"][0]["quantity"] = 0
        self.assertInvalid(data, "$.lines[0].quantity")

    def test_second_line_names_its_index(self):
        data = self.order_payload()
        del data["lines"][1]["sku"]
        err = self.assertInvalid(data, "$.lines[1]")
        self.assertIn("'sku' is a required property", err.message)

    def test_bad_currency(self):
        err = self.assertInvalid(self.order_payload(currency="usd"), "$.currency")
        self.assertIn("does not match", err.message)

    def test_extra_property_rejected(self):
        err = self.assertInvalid(self.order_payload(coupon="SPRING"), "$")
        self.assertIn("'coupon'", err.message)

    def test_extra_line_property_rejected(self):
        data = self.order_payload()
        data["lines"][0]["weight"] = 3
        err = self.assertInvalid(data, "$.lines[0]")
        self.assertIn("'weight'", err.message)

    def test_bad_date_time(self):
        self.assertInvalid(self.order_payload(updated_at="yesterday"), "$.updated_at")

    def test_every_error_is_listed_first_path_first(self):
        data = self.order_payload(currency="dollars")
        data["lines"][0]["quantity"] = -1
        data["lines"][1]["unit_price"] = "free"
        err = self.assertInvalid(data, "$.currency")
        self.assertIn("$.lines[0].quantity", err.message)
        self.assertIn("$.lines[1].unit_price", err.message)

    def test_invalid_exchange_records_exception(self):
        data = self.order_payload()
        data["lines"][0]["quantity"] = 0
        orders_before = self.env["sale.order"].search_count([])
        exchange = self.import_order(data)
        exception = self.assertOneException(exchange, "invalid_payload")
        self.assertEqual(exception.json_path, "$.lines[0].quantity")
        self.assertIn("$.lines[0].quantity", exception.message)
        self.assertIn("$.lines[0].quantity", exchange.error)
        self.assertEqual(exception.external_ref, "CH-1001")
        self.assertEqual(exception.backend_id, self.backend)
        self.assertEqual(exchange.attempts, 1)
        self.assertEqual(self.env["sale.order"].search_count([]), orders_before)

    def test_unreadable_body_records_exception(self):
        exchange = self.import_order(b"{not json")
        exception = self.assertOneException(exchange, "invalid_payload")
        self.assertIn("not valid JSON", exception.message)

    def test_same_failure_twice_counts_occurrences(self):
        exchange = self.import_order(self.order_payload(currency="usd"))
        with trap_jobs() as trap:
            exchange.action_retry()
            trap.assert_jobs_count(1, only=exchange.process)
            trap.perform_enqueued_jobs()
        exception = self.assertOneException(exchange, "invalid_payload")
        self.assertEqual(exception.occurrences, 2)
        self.assertEqual(exchange.attempts, 2)
