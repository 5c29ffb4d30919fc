"""No database lock is held while an export waits on its channel.

Two real transactions in two threads, on committed data: an export blocked
on a slow channel (the local server answers only when the test lets it),
and a picking of the same product validated meanwhile, which marks the
level dirty. The picking must commit at once; the export then records what
the channel confirmed.
"""

import os
import threading
import time
import uuid

from odoo.modules.registry import Registry
from odoo.tests.common import BaseCase, get_db_name, tagged

from odoo.addons.distribution_connector.http_client import BackendHttpClient
from odoo.addons.distribution_connector.tests.common import (
    KEYS_ENV,
    TEST_KEY,
    committed_env,
    encryption_keys,
)
from odoo.addons.distribution_connector.tests.fake_server import FakeServer

from ..models.distribution_stock_level_export import OWN_TRANSACTIONS

SKU = "CLAIM-MUG"


@tagged("-at_install", "post_install")
class TestExportHoldsNoLock(BaseCase):
    """On committed transactions only: no test transaction stays open
    beside the two threads."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        if not os.environ.get(KEYS_ENV):
            cls.enterClassContext(encryption_keys(TEST_KEY))
        cls.server = FakeServer().start()
        cls.addClassCleanup(cls.server.stop)

    def setUp(self):
        super().setUp()
        self.patch(BackendHttpClient, "backoff", 0)
        self.release = threading.Event()
        self.arrived = threading.Event()

        def slow_channel(recorded):
            self.arrived.set()
            self.release.wait(30)
            results = [
                {
                    "sku": item["sku"],
                    "status": "ok",
                    "actual_quantity": item["quantity"],
                }
                for item in recorded.json()["items"]
            ]
            return 200, {"results": results}, {}

        self.server.route("POST", "/api/stock", slow_channel)
        with committed_env(self.registry) as env:
            warehouse = env["stock.warehouse"].create(
                {"name": f"Claim {uuid.uuid4().hex[:8]}", "code": uuid.uuid4().hex[:5]}
            )
            backend = env["distribution.backend"].create(
                {
                    "name": "Slow stock channel",
                    "webhook_secret": "slow-stock-secret-0123",
                    "api_base_url": self.server.url + "/api",
                    "allow_private_network": True,
                    "api_secret": "slow-token-0123456789",
                    "rate_limit_per_second": 0,
                }
            )
            product = env["product.product"].create(
                {"name": "Claim mug", "default_code": SKU, "is_storable": True}
            )
            env["stock.quant"]._update_available_quantity(
                product, warehouse.lot_stock_id, 10
            )
            env["distribution.stock.level"]._flush_dirty_marks()
            env["distribution.publish.rule"].create(
                {"backend_id": backend.id, "warehouse_ids": [(6, 0, warehouse.ids)]}
            )
            level = env["distribution.stock.level"].search(
                [("product_id", "=", product.id), ("backend_id", "=", backend.id)]
            )
            level._stock_publish_engine().recompute(product_ids=product.ids)
            level.write({"state": "exporting"})
            self.ids = (warehouse.id, backend.id, product.id, level.id)
        self.addCleanup(self.purge)

    def purge(self):
        self.release.set()
        warehouse_id, backend_id, product_id, _level_id = self.ids
        with committed_env(self.registry) as env:
            env["distribution.exchange"].search(
                [("backend_id", "=", backend_id)]
            ).unlink()
            env["queue.job"].search(
                [("model_name", "=", "distribution.stock.level")]
            ).unlink()
            env["distribution.backend"].browse(backend_id).unlink()
            env.cr.execute(
                "DELETE FROM stock_move_line WHERE product_id = %s", [product_id]
            )
            env.cr.execute("DELETE FROM stock_move WHERE product_id = %s", [product_id])
            env.cr.execute(
                "DELETE FROM stock_quant WHERE product_id = %s", [product_id]
            )
            env["product.product"].browse(product_id).unlink()
            env["stock.warehouse"].browse(warehouse_id).active = False

    def export_in_thread(self):
        outcome = {}

        def run():
            try:
                with committed_env(self.registry) as env:
                    level = env["distribution.stock.level"].browse(self.ids[3])
                    outcome["result"] = level.with_context(
                        **{OWN_TRANSACTIONS: True}
                    ).export_batch()
            except Exception as err:  # reported by the test
                outcome["error"] = err

        thread = threading.Thread(target=run)
        thread.start()
        return thread, outcome

    def validate_picking(self, env):
        warehouse_id, _backend_id, product_id, _level_id = self.ids
        warehouse = env["stock.warehouse"].browse(warehouse_id)
        product = env["product.product"].browse(product_id)
        picking = env["stock.picking"].create(
            {
                "picking_type_id": warehouse.out_type_id.id,
                "location_id": warehouse.lot_stock_id.id,
                "location_dest_id": env.ref("stock.stock_location_customers").id,
                "move_ids": [
                    (
                        0,
                        0,
                        {
                            "product_id": product.id,
                            "product_uom_qty": 3,
                            "product_uom": product.uom_id.id,
                            "location_id": warehouse.lot_stock_id.id,
                            "location_dest_id": env.ref(
                                "stock.stock_location_customers"
                            ).id,
                        },
                    )
                ],
            }
        )
        picking.action_confirm()
        picking.action_assign()
        picking.move_ids.write({"quantity": 3, "picked": True})
        picking.button_validate()
        return picking

    def test_picking_validated_during_a_slow_export_commits_at_once(self):
        thread, outcome = self.export_in_thread()
        self.assertTrue(self.arrived.wait(20), "the export never called the channel")
        started = time.monotonic()
        with committed_env(self.registry) as env:
            # fail fast rather than wait for the channel: a lock held by the
            # export would end this transaction with an error
            env.cr.execute("SET LOCAL lock_timeout = '5s'")
            picking = self.validate_picking(env)
            self.assertEqual(picking.state, "done")
        # the commit ran the dirty marks, which only add to the mark table
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, 5, "the picking waited on the channel's call")
        self.release.set()
        thread.join(90)
        self.assertFalse(thread.is_alive(), "the export never ended")
        self.assertNotIn("error", outcome)
        self.assertEqual(outcome["result"], "1 published, 0 failed")
        with committed_env(self.registry) as env:
            level = env["distribution.stock.level"].browse(self.ids[3])
            self.assertEqual(level.published_qty, 10)
            self.assertFalse(level.export_claim)
            # the picking marked it during the call: the sweep sends 7
            self.assertTrue(level.to_recompute)
            self.assertEqual(level.basis_qty, 10)

    def test_an_abandoned_claim_is_released_by_the_sweep(self):
        with committed_env(self.registry) as env:
            env.cr.execute(
                "UPDATE distribution_stock_level SET export_claim = 'crashed', "
                "write_date = now() - interval '2 hours' WHERE id = %s",
                [self.ids[3]],
            )
        with committed_env(self.registry) as env:
            level = env["distribution.stock.level"].browse(self.ids[3])
            # claimed by a crashed export: another one leaves it alone
            self.assertEqual(
                level.export_batch(), "nothing to do: no level waits for export"
            )
            env["distribution.stock.level"]._reset_stale_exports()
            self.assertEqual(level.state, "clean")
            self.assertFalse(level.export_claim)
