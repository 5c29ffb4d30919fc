from odoo.exceptions import AccessError
from odoo.tests.common import TransactionCase, new_test_user

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import StockFlowMixin


class TestStockSnapshot(StockFlowMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockFlows()
        cls.warehouse_3pl = cls.make_backend("3PL", kind="3pl")
        cls.manager = new_test_user(
            cls.env,
            login="distribution_manager",
            groups="base.group_user,distribution_connector.group_distribution_manager",
        )
        cls.reviewer = new_test_user(
            cls.env,
            login="distribution_reviewer",
            groups="base.group_user,distribution_connector.group_distribution_user",
        )

    def snapshot(
        self, items, counted_at="2025-03-05T06:00:00Z", location=None, **extra
    ):
        payload = {
            "external_id": f"COUNT-{counted_at}",
            "location": location or self.warehouse.code,
            "counted_at": counted_at,
            "items": items,
            **extra,
        }
        return self.apply("stock_snapshot", payload, backend=self.warehouse_3pl)

    def drifts(self, state="open"):
        return self.Exception.search(
            [
                ("backend_id", "=", self.warehouse_3pl.id),
                ("type", "=", "stock_drift"),
                ("state", "=", state),
            ]
        )

    def test_matching_count_raises_nothing(self):
        exchange = self.snapshot(
            [{"sku": "MUG-BLUE", "quantity": 10}, {"sku": "MUG-RED", "quantity": 10}]
        )
        self.assertRecordValues(
            exchange,
            [
                {
                    "state": "done",
                    "res_model": "stock.location",
                    "res_id": self.stock_location.id,
                }
            ],
        )
        self.assertFalse(self.drifts())

    def test_difference_is_a_drift_exception(self):
        exchange = self.snapshot(
            [{"sku": "MUG-BLUE", "quantity": 8}, {"sku": "MUG-RED", "quantity": 10}]
        )
        self.assertEqual(exchange.state, "done", "a drift is a finding, not a failure")
        drift = self.drifts()
        self.assertEqual(len(drift), 1)
        self.assertRecordValues(
            drift,
            [
                {
                    "exchange_id": exchange.id,
                    "product_id": self.mug_blue.id,
                    "location_id": self.stock_location.id,
                    "odoo_qty": 10,
                    "counted_qty": 8,
                    "drift_qty": -2,
                    "key": "MUG-BLUE",
                    "occurrences": 1,
                }
            ],
        )
        self.assertIn("counts 8", drift.message)
        self.assertEqual(self.on_hand(self.mug_blue), 10, "nothing adjusted yet")

    def test_later_count_updates_the_drift(self):
        self.snapshot([{"sku": "MUG-BLUE", "quantity": 8}])
        drift = self.drifts()
        later = self.snapshot(
            [{"sku": "MUG-BLUE", "quantity": 7}], counted_at="2025-03-06T06:00:00Z"
        )
        self.assertEqual(self.drifts(), drift, "updated, not duplicated")
        self.assertRecordValues(
            drift, [{"counted_qty": 7, "occurrences": 2, "exchange_id": later.id}]
        )
        # an older count arriving late changes nothing
        self.snapshot(
            [{"sku": "MUG-BLUE", "quantity": 3}], counted_at="2025-03-01T06:00:00Z"
        )
        self.assertRecordValues(drift, [{"counted_qty": 7, "occurrences": 2}])

    def test_matching_count_resolves_the_drift(self):
        self.snapshot([{"sku": "MUG-BLUE", "quantity": 8}])
        drift = self.drifts()
        self.snapshot(
            [{"sku": "MUG-BLUE", "quantity": 10}], counted_at="2025-03-06T06:00:00Z"
        )
        self.assertEqual(drift.state, "resolved")
        self.assertTrue(drift.resolved_at)
        self.assertFalse(self.drifts())

    def test_complete_count_takes_unlisted_products_as_zero(self):
        self.snapshot([{"sku": "MUG-BLUE", "quantity": 10}], complete=True)
        drift = self.drifts()
        self.assertRecordValues(
            drift,
            [
                {
                    "product_id": self.mug_red.id,
                    "odoo_qty": 10,
                    "counted_qty": 0,
                    "key": "MUG-RED",
                }
            ],
        )

    def test_sub_locations_count_and_location_mapping(self):
        shelf = self.env["stock.location"].create(
            {"name": "Shelf 1", "location_id": self.stock_location.id}
        )
        self.Quant._update_available_quantity(self.mug_blue, shelf, 5)
        self.Binding.create(
            {
                "backend_id": self.warehouse_3pl.id,
                "res_model": "stock.location",
                "res_id": self.stock_location.id,
                "external_id": "3PL-MAIN",
            }
        )
        self.snapshot([{"sku": "MUG-BLUE", "quantity": 15}], location="3PL-MAIN")
        self.assertFalse(self.drifts())
        # a location mapped to the shelf compares the shelf alone
        self.Binding.create(
            {
                "backend_id": self.warehouse_3pl.id,
                "res_model": "stock.location",
                "res_id": shelf.id,
                "external_id": "3PL-SHELF",
            }
        )
        self.snapshot([{"sku": "MUG-BLUE", "quantity": 4}], location="3PL-SHELF")
        self.assertRecordValues(
            self.drifts(), [{"location_id": shelf.id, "odoo_qty": 5, "counted_qty": 4}]
        )

    def test_unknown_location(self):
        exchange = self.snapshot([{"sku": "MUG-BLUE", "quantity": 1}], location="NOPE")
        exception = self.assertOneException(exchange, "unknown_location")
        self.assertEqual(exception.key, "NOPE")

    def test_manager_applies_the_count(self):
        self.snapshot([{"sku": "MUG-BLUE", "quantity": 8}])
        drift = self.drifts()
        drift.with_user(self.manager).action_apply_count()
        self.assertEqual(self.on_hand(self.mug_blue), 8)
        self.assertRecordValues(
            drift, [{"state": "resolved", "approved_by_id": self.manager.id}]
        )
        self.assertTrue(drift.approved_at)
        # the next count matches: nothing new
        self.snapshot(
            [{"sku": "MUG-BLUE", "quantity": 8}], counted_at="2025-03-06T06:00:00Z"
        )
        self.assertFalse(self.drifts())

    def test_count_applies_the_difference_found(self):
        """Stock that moved since the count is kept: the difference is applied."""
        self.snapshot([{"sku": "MUG-BLUE", "quantity": 8}])
        self.Quant._update_available_quantity(self.mug_blue, self.stock_location, -1)
        self.drifts().with_user(self.manager).action_apply_count()
        self.assertEqual(self.on_hand(self.mug_blue), 7)

    def test_plain_user_may_not_apply_the_count(self):
        self.snapshot([{"sku": "MUG-BLUE", "quantity": 8}])
        drift = self.drifts()
        with self.assertRaises(AccessError):
            drift.with_user(self.reviewer).action_apply_count()
        self.assertEqual(drift.state, "open")
        self.assertEqual(self.on_hand(self.mug_blue), 10)

    def test_retry_does_not_touch_a_drift(self):
        self.snapshot([{"sku": "MUG-BLUE", "quantity": 8}])
        with trap_jobs() as trap:
            self.drifts().action_retry()
            trap.assert_jobs_count(0)
        self.assertTrue(self.drifts())
