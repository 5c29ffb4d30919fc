"""End to end through the real HTTP route: a signed webhook becomes one
confirmed sales order, whatever the redeliveries."""

import json

from odoo.tests.common import HttpCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import OrderImportMixin


@tagged("-at_install", "post_install")
class TestWebhookOrder(OrderImportMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()
        cls.secret = "secret-of-Test channel-0123456789"

    def perform(self, trap):
        """Run what the requests enqueued: the backend's dispatcher, then the
        processing jobs it enqueues; return the exchanges processed."""
        ran = self.run_trapped_jobs(trap)
        return [job.recordset for job in ran if job.method_name == "process"]

    def deliver(self, payload, event_id):
        body, headers = self.signed(self.secret, payload, event_id=event_id)
        return self.url_open(
            self.webhook_path(self.backend), data=body, headers=headers
        )

    def test_signed_webhook_becomes_a_confirmed_order(self):
        payload = self.order_payload()
        with trap_jobs() as trap:
            response = self.deliver(payload, "evt-e2e-1")
            self.assertEqual(response.status_code, 200, response.text)
            self.assertEqual(response.json()["status"], "accepted")
            self.assertFalse(self.orders(), "nothing is processed inside the request")
            trap.assert_jobs_count(1, only=self.Exchange.dispatch)
            processed = self.perform(trap)
        order = self.orders("CH-1001")
        self.assertEqual(len(order), 1)
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.amount_total, 42.0)
        self.assertEqual(
            sorted(self.product_lines(order).mapped("product_id.default_code")),
            ["MUG-BLUE", "MUG-RED"],
        )
        exchange = self.Exchange.browse(response.json()["exchange_id"])
        self.assertEqual(processed, [exchange])
        self.assertEqual((exchange.state, exchange.res_id), ("done", order.id))

    def test_redeliveries_and_a_second_event_give_one_order(self):
        payload = self.order_payload()
        with trap_jobs() as trap:
            first = self.deliver(payload, "evt-e2e-2").json()
            again = self.deliver(payload, "evt-e2e-2").json()
            # the channel sends the same order again as another event
            later = self.deliver(
                self.order_payload(updated_at="2025-03-01T11:00:00Z"), "evt-e2e-3"
            ).json()
            self.assertEqual(
                again, {"status": "duplicate", "exchange_id": first["exchange_id"]}
            )
            self.assertEqual(later["status"], "accepted")
            trap.assert_jobs_count(1, only=self.Exchange.dispatch)
            processed = self.perform(trap)
        # one processing job per exchange: two events, one order
        self.assertEqual(
            sorted(exchange.id for exchange in processed),
            sorted([first["exchange_id"], later["exchange_id"]]),
        )
        self.assertEqual(len(self.orders("CH-1001")), 1)

    def test_unknown_sku_waits_in_the_review_queue_with_its_payload(self):
        payload = self.order_payload()
        payload["lines"][0]["sku"] = "MUG-GREEN"
        with trap_jobs() as trap:
            answer = self.deliver(payload, "evt-e2e-4").json()
            self.perform(trap)
        exchange = self.Exchange.browse(answer["exchange_id"])
        exception = self.assertOneException(exchange, "unknown_sku")
        self.assertEqual(exception.key, "MUG-GREEN")
        self.assertEqual(json.loads(exception.payload_pretty)["external_id"], "CH-1001")
        self.assertFalse(self.orders())

    def test_older_update_after_a_newer_one_is_ignored_with_its_reason(self):
        for payload, event_id in (
            (self.order_payload(), "evt-e2e-5"),
            (self.order_payload(updated_at="2025-03-01T11:00:00Z"), "evt-e2e-6"),
        ):
            with trap_jobs() as trap:
                self.deliver(payload, event_id)
                self.perform(trap)
        order = self.orders("CH-1001")
        binding = self.Binding._find(self.backend, "sale.order", "CH-1001")
        self.assertEqual(binding.external_updated_at.isoformat(), "2025-03-01T11:00:00")
        stale = self.order_payload(updated_at="2025-03-01T10:30:00Z")
        stale["lines"][0]["quantity"] = 5
        with trap_jobs() as trap:
            answer = self.deliver(stale, "evt-e2e-7").json()
            self.perform(trap)
        exchange = self.Exchange.browse(answer["exchange_id"])
        self.assertEqual(exchange.state, "ignored", exchange.error)
        self.assertEqual(
            exchange.reason,
            "This version of order CH-1001 (2025-03-01T10:30:00Z) is older than "
            f"the one applied (2025-03-01T11:00:00Z): {order.name} was not changed.",
        )
        self.assertEqual(
            (exchange.res_model, exchange.res_id), ("sale.order", order.id)
        )
        self.assertFalse(exchange.exception_ids)
        self.assertEqual(
            self.product_lines(order)
            .filtered(lambda line: line.product_id == self.mug_blue)
            .product_uom_qty,
            2,
        )
        self.assertEqual(binding.external_updated_at.isoformat(), "2025-03-01T11:00:00")

    def test_paused_backend_keeps_events_and_applies_them_in_order_once_resumed(
        self,
    ):
        self.backend.action_pause()
        first = self.order_payload()
        second = self.order_payload(updated_at="2025-03-01T11:00:00Z")
        with trap_jobs() as trap:
            answers = [
                self.deliver(first, "evt-paused-1"),
                self.deliver(second, "evt-paused-2"),
                self.deliver(first, "evt-paused-1"),
            ]
            self.assertEqual([a.status_code for a in answers], [200, 200, 200])
            self.assertEqual(
                [a.json()["status"] for a in answers],
                ["accepted", "accepted", "duplicate"],
            )
            trap.assert_jobs_count(0)
        exchanges = self.Exchange.browse([a.json()["exchange_id"] for a in answers[:2]])
        self.assertEqual(exchanges.mapped("state"), ["received", "received"])
        self.assertFalse(self.orders())
        with trap_jobs() as trap:
            self.backend.action_resume()
            processed = self.perform(trap)
        # oldest first: the newer version is applied last
        self.assertEqual(processed, list(exchanges))
        self.assertEqual(exchanges.mapped("state"), ["done", "done"])
        order = self.orders("CH-1001")
        self.assertEqual(len(order), 1)
        self.assertEqual(order.state, "sale")
        binding = self.Binding._find(self.backend, "sale.order", "CH-1001")
        self.assertEqual(binding.external_updated_at.isoformat(), "2025-03-01T11:00:00")
