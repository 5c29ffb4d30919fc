from odoo.tests.common import TransactionCase

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import StockFlowMixin


class TestOrderCancellation(StockFlowMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockFlows()

    def cancel(self, external_id="CH-1001", event_id=None, **extra):
        payload = {"external_id": external_id, "reason": "customer changed mind"}
        payload.update(extra)
        return self.apply("order_cancellation", payload, event_id=event_id)

    def cancellation_notes(self, order):
        return order.message_ids.filtered(lambda m: "Cancelled by" in (m.body or ""))

    def test_cancel_before_shipping_releases_reservations(self):
        order, delivery = self.confirmed_order()
        self.assertEqual(delivery.state, "assigned")
        self.assertEqual(self.reserved(self.mug_blue), 2)
        self.assertEqual(self.reserved(self.mug_red), 1)

        exchange = self.cancel()

        self.assertRecordValues(
            exchange, [{"state": "done", "res_model": "sale.order", "res_id": order.id}]
        )
        self.assertFalse(exchange.exception_ids)
        self.assertEqual(order.state, "cancel")
        self.assertEqual(delivery.state, "cancel")
        self.assertEqual(set(delivery.move_ids.mapped("state")), {"cancel"})
        self.assertEqual(self.reserved(self.mug_blue), 0)
        self.assertEqual(self.reserved(self.mug_red), 0)
        self.assertIn("customer changed mind", self.cancellation_notes(order).body)

    def test_same_cancellation_twice_cancels_once(self):
        order, _delivery = self.confirmed_order()
        self.cancel(event_id="evt-cancel-1")
        again = self.cancel(event_id="evt-cancel-2")
        self.assertEqual(again.state, "done")
        self.assertFalse(again.exception_ids)
        self.assertEqual(order.state, "cancel")
        self.assertEqual(len(self.cancellation_notes(order)), 1)

    def test_cancel_after_shipping_opens_exception(self):
        order, delivery = self.confirmed_order()
        self.ship_by_hand(delivery)

        exchange = self.cancel()

        exception = self.assertOneException(exchange, "cancel_after_shipping")
        self.assertEqual(exception.key, "CH-1001")
        self.assertIn(delivery.name, exception.message)
        self.assertEqual(order.state, "sale")
        self.assertEqual(delivery.state, "done")
        self.assertFalse(self.cancellation_notes(order))

    def test_cancel_after_partial_shipping_leaves_backorder(self):
        order, delivery = self.confirmed_order()
        self.ship_by_hand(delivery, {self.mug_blue: 1})
        backorder = self.delivery(order)
        self.assertTrue(backorder)

        exchange = self.cancel()

        self.assertOneException(exchange, "cancel_after_shipping")
        self.assertEqual(order.state, "sale")
        self.assertEqual(backorder.state, "assigned")
        self.assertEqual(self.reserved(self.mug_blue), 1)

    def test_unknown_order_waits_then_retry_cancels(self):
        exchange = self.cancel("CH-2002")
        exception = self.assertOneException(exchange, "unknown_order")
        self.assertEqual(exception.key, "CH-2002")
        self.assertEqual(exception.json_path, "$.external_id")

        order, _delivery = self.confirmed_order("CH-2002")
        with trap_jobs() as trap:
            exception.action_retry()
            trap.assert_jobs_count(1, only=exchange.process)
            trap.perform_enqueued_jobs()
        self.assertEqual(order.state, "cancel")
        self.assertEqual(exchange.state, "done")
        self.assertEqual(exception.state, "resolved")

    def test_quotation_is_cancelled(self):
        self.backend.auto_confirm = False
        self.import_order(self.order_payload())
        order = self.orders()
        self.assertEqual(order.state, "draft")
        self.cancel()
        self.assertEqual(order.state, "cancel")

    # -- cancellations sent as order updates ------------------------------------

    def test_order_update_with_cancelled_status_cancels(self):
        order, delivery = self.confirmed_order()
        update = self.order_payload(
            updated_at="2025-03-01T11:00:00Z", status="cancelled"
        )
        exchange = self.import_order(update, event_id="evt-update")
        self.assertRecordValues(exchange, [{"state": "done", "res_id": order.id}])
        self.assertEqual(order.state, "cancel")
        self.assertEqual(delivery.state, "cancel")
        self.assertEqual(self.reserved(self.mug_blue), 0)
        binding = self.Binding._find(self.backend, "sale.order", "CH-1001")
        self.assertEqual(binding.external_updated_at.isoformat(), "2025-03-01T11:00:00")

    def test_order_update_cancelled_after_shipping(self):
        order, delivery = self.confirmed_order()
        self.ship_by_hand(delivery)
        update = self.order_payload(
            updated_at="2025-03-01T11:00:00Z", status="cancelled"
        )
        exchange = self.import_order(update, event_id="evt-update")
        exception = self.assertOneException(exchange, "cancel_after_shipping")
        self.assertEqual(exception.key, "CH-1001")
        self.assertEqual(order.state, "sale")

    def test_new_order_already_cancelled_is_a_cancelled_quotation(self):
        exchange = self.import_order(self.order_payload(status="cancelled"))
        order = self.orders()
        self.assertEqual(len(order), 1)
        self.assertEqual(order.state, "cancel")
        self.assertFalse(order.picking_ids)
        self.assertEqual(exchange.res_id, order.id)
        # the cancellation event arriving next finds it cancelled
        cancellation = self.cancel()
        self.assertEqual(cancellation.state, "done")
        self.assertFalse(cancellation.exception_ids)
