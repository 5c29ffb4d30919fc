from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests.common import TransactionCase

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import OrderImportMixin


class TestExceptionQueue(OrderImportMixin, TransactionCase):
    """The review queue: SLA, assignment, replay of what waited on a key."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()
        cls.user = cls.env["res.users"].create(
            {
                "name": "Ops Olivia",
                "login": "ops-olivia",
                "group_ids": [
                    (
                        4,
                        cls.env.ref(
                            "distribution_connector.group_distribution_user"
                        ).id,
                    )
                ],
            }
        )
        cls.other_user = cls.user.copy({"name": "Ops Oscar", "login": "ops-oscar"})
        cls.green = cls.make_product("Green mug", False, 8.5)

    def unknown_sku_order(self, external_id, sku="MUG-GREEN", event_id=None, **vals):
        payload = self.order_payload(external_id=external_id, **vals)
        payload["lines"][0]["sku"] = sku
        exchange = self.import_order(payload, event_id=event_id)
        return self.assertOneException(exchange, "unknown_sku")

    def age(self, exception, hours):
        self.env.cr.execute(
            "UPDATE distribution_exception SET create_date = %s WHERE id = %s",
            [fields.Datetime.now() - timedelta(hours=hours), exception.id],
        )
        exception.invalidate_recordset(["create_date", "overdue"])

    def replayed(self, trap):
        """Run the replayed exchanges; return them."""
        jobs = self.run_trapped_jobs(trap)
        return self.Exchange.browse([job.recordset.id for job in jobs])

    # -- SLA ------------------------------------------------------------------------

    def test_older_than_the_backend_sla(self):
        self.backend.exception_sla_hours = 24
        late = self.unknown_sku_order("CH-LATE")
        recent = self.unknown_sku_order("CH-RECENT")
        self.age(late, 30)
        self.age(recent, 10)
        Exception_ = self.env["distribution.exception"]
        mine = [("backend_id", "=", self.backend.id)]

        self.assertTrue(late.overdue)
        self.assertFalse(recent.overdue)
        self.assertEqual(Exception_.search([*mine, ("overdue", "=", True)]), late)
        self.assertEqual(Exception_.search([*mine, ("overdue", "=", False)]), recent)
        self.assertEqual(Exception_.search([*mine, ("overdue", "!=", True)]), recent)

        self.backend.exception_sla_hours = 8
        self.assertEqual(
            Exception_.search([*mine, ("overdue", "=", True)]), late | recent
        )
        late._ignore("Test order")
        self.assertFalse(late.overdue, "a closed exception is never late")
        self.assertEqual(Exception_.search([*mine, ("overdue", "=", True)]), recent)

    # -- assignment -----------------------------------------------------------------

    def test_assignment_schedules_and_moves_the_review_activity(self):
        self.backend.exception_sla_hours = 48
        exception = self.unknown_sku_order("CH-ASSIGN")
        todo = self.env.ref("mail.mail_activity_data_todo")

        exception.user_id = self.user
        activity = exception.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.activity_type_id, todo)
        self.assertEqual(activity.user_id, self.user)
        self.assertEqual(
            activity.date_deadline,
            (exception.create_date + timedelta(hours=48)).date(),
        )

        exception.user_id = self.other_user
        self.assertEqual(exception.activity_ids, activity, "moved, not duplicated")
        self.assertEqual(activity.user_id, self.other_user)

        exception.with_user(self.user).action_assign_to_me()
        self.assertEqual(exception.user_id, self.user)
        self.assertEqual(exception.activity_ids.user_id, self.user)

        # the cause is fixed and the retry succeeds: the activity is done
        self.map_sku(self.backend, "MUG-GREEN", self.green)
        with trap_jobs() as trap:
            exception.with_user(self.user).action_retry()
            self.replayed(trap)
        self.assertEqual(exception.state, "resolved")
        self.assertFalse(exception.activity_ids)
        self.assertTrue(
            exception.message_ids.filtered(
                lambda m: m.mail_activity_type_id == todo and m.body
            ),
            "the done activity is kept in the chatter",
        )

    # -- replay of what waits on a key ----------------------------------------------

    def test_mapping_wizard_replays_everything_waiting_once(self):
        first = self.unknown_sku_order("CH-A", event_id="a-create")
        again = self.unknown_sku_order(
            "CH-A", event_id="a-update", updated_at="2025-03-01T11:00:00Z"
        )
        other_order = self.unknown_sku_order("CH-B")
        other_key = self.unknown_sku_order("CH-C", sku="MUG-PINK")
        self.assertEqual(first.waiting_count, 3)
        self.assertEqual(other_key.waiting_count, 1)

        wizard = (
            self.env["distribution.sku.mapping"]
            .with_user(self.user)
            .with_context(**first.action_map_sku()["context"])
            .create({"product_id": self.green.id})
        )
        self.assertEqual((wizard.backend_id, wizard.sku), (self.backend, "MUG-GREEN"))
        self.assertEqual(wizard.waiting_count, 3)
        with trap_jobs() as trap:
            action = wizard.action_apply()
            self.assertIn("3 exceptions replayed", action["params"]["message"])
            replayed = self.replayed(trap)

        self.assertEqual(replayed, (first | again | other_order).exchange_id)
        self.assertEqual(len(self.orders("CH-A")), 1, "two events, one order")
        self.assertEqual(len(self.orders("CH-B")), 1)
        self.assertEqual(
            (first | again | other_order).mapped("state"), ["resolved"] * 3
        )
        self.assertEqual(other_key.state, "open", "another SKU is left alone")
        self.assertEqual(
            self.Binding._find(self.backend, "product.product", "MUG-GREEN")._record(),
            self.green,
        )

        # replaying again finds nothing to do
        with trap_jobs() as trap:
            first.action_replay_waiting()
            self.env.ref(
                "distribution_sync.action_server_distribution_exception_retry"
            ).with_context(
                active_model="distribution.exception", active_ids=first.ids
            ).run()
            trap.assert_jobs_count(0)
        self.assertEqual(len(self.orders("CH-A")), 1)

    def test_double_replay_enqueues_each_exchange_once(self):
        first = self.unknown_sku_order("CH-A", event_id="a-create")
        again = self.unknown_sku_order(
            "CH-A", event_id="a-update", updated_at="2025-03-01T11:00:00Z"
        )
        self.map_sku(self.backend, "MUG-GREEN", self.green)
        with trap_jobs() as trap:
            (first | again).action_replay_waiting()
            trap.assert_jobs_count(2)
            jobs = self.run_trapped_jobs(trap)
        self.assertEqual(len(jobs), 2)
        self.assertEqual(len(self.orders("CH-A")), 1)

    def test_wizard_can_give_the_product_its_internal_reference(self):
        shop = self.make_backend("Second shop")
        here = self.unknown_sku_order("CH-1")
        payload = self.order_payload(external_id="CH-2")
        payload["lines"][0]["sku"] = "MUG-GREEN"
        there = self.assertOneException(
            self.import_order(payload, backend=shop), "unknown_sku"
        )
        Wizard = self.env["distribution.sku.mapping"].with_context(
            **here.action_map_sku()["context"]
        )
        by_binding = Wizard.create({"product_id": self.green.id})
        self.assertEqual(by_binding.waiting_count, 1, "this backend's only")
        by_code = Wizard.create({"product_id": self.green.id, "target": "default_code"})
        self.assertEqual(by_code.waiting_count, 2, "every backend's")

        self.assertEqual(self.green.product_tmpl_id.distribution_waiting_count, 0)
        with trap_jobs() as trap:
            by_code.action_apply()
            self.replayed(trap)
        self.assertEqual(self.green.default_code, "MUG-GREEN")
        self.assertEqual((here | there).mapped("state"), ["resolved"] * 2)
        self.assertEqual(len(self.orders("CH-2", backend=shop)), 1)

        # a product with another reference is not renamed
        blue_wizard = Wizard.create(
            {"product_id": self.mug_blue.id, "target": "default_code"}
        )
        with self.assertRaisesRegex(UserError, "already has the internal reference"):
            blue_wizard.action_apply()

    def test_wizard_refuses_to_remap_a_mapped_sku(self):
        exception = self.unknown_sku_order("CH-1")
        self.map_sku(self.backend, "MUG-GREEN", self.mug_blue)
        wizard = (
            self.env["distribution.sku.mapping"]
            .with_context(**exception.action_map_sku()["context"])
            .create({"product_id": self.green.id})
        )
        with self.assertRaisesRegex(UserError, "already mapped to"):
            wizard.action_apply()

    def test_binding_and_product_offer_the_replay(self):
        exception = self.unknown_sku_order("CH-1")
        binding = self.map_sku(self.backend, "MUG-GREEN", self.green)
        self.assertEqual(binding.waiting_exception_count, 1)
        template = self.green.product_tmpl_id
        self.assertEqual(template.distribution_waiting_count, 1)
        action = template.action_view_distribution_waiting()
        self.assertEqual(
            self.env["distribution.exception"].search(action["domain"]), exception
        )
        with trap_jobs() as trap:
            binding.action_replay_waiting_exceptions()
            self.replayed(trap)
        self.assertEqual(exception.state, "resolved")
        binding.invalidate_recordset(["waiting_exception_count"])
        self.assertEqual(binding.waiting_exception_count, 0)

    # -- smart buttons and tracing ---------------------------------------------------

    def test_result_button_opens_the_order(self):
        exception = self.unknown_sku_order("CH-1")
        self.assertFalse(exception.result_name)
        self.map_sku(self.backend, "MUG-GREEN", self.green)
        with trap_jobs() as trap:
            exception.action_retry()
            self.replayed(trap)
        order = self.orders("CH-1")
        exception.invalidate_recordset(["result_name"])
        self.assertEqual(exception.result_name, order.display_name)
        action = exception.action_open_result()
        self.assertEqual(
            (action["res_model"], action["res_id"]), ("sale.order", order.id)
        )
        self.assertEqual(
            exception.action_open_exchange()["res_id"], exception.exchange_id.id
        )

    def test_sale_order_shows_the_exchanges_that_made_it_and_that_it_caused(self):
        created = self.import_order(self.order_payload(), event_id="create")
        updated = self.import_order(
            self.order_payload(updated_at="2025-03-01T11:00:00Z"), event_id="update"
        )
        other = self.import_order(self.order_payload(external_id="CH-OTHER"))
        order = self.orders("CH-1001")
        picking = order.picking_ids[:1]
        self.assertTrue(picking)
        fulfillment = self.Exchange._fulfillment_exchange(self.backend, picking)
        shipment = self.Exchange.create(
            {
                "backend_id": self.backend.id,
                "topic": "shipment",
                "external_event_id": "3pl-shipment-1",
                "res_model": "stock.picking",
                "res_id": picking.id,
            }
        )
        action = order.action_view_distribution_exchanges()
        self.assertEqual(
            self.Exchange.search(action["domain"]),
            created | updated | fulfillment | shipment,
        )
        self.assertNotIn(other, self.Exchange.search(action["domain"]))
        self.assertEqual(order.distribution_exchange_count, 4)
        # tracing from the exchange list: by correlation id and by reference
        self.assertEqual(
            self.Exchange.search([("correlation_id", "=", created.correlation_id)]),
            created,
        )

    def test_activating_needs_the_webhook_secret(self):
        backend = self.env["distribution.backend"].create(
            {"name": "Unfinished", "adapter": "generic_json", "paused": True}
        )
        with self.assertRaisesRegex(UserError, "Set the webhook secret"):
            backend.action_resume()
        self.assertTrue(backend.paused)
        backend.webhook_secret = "now-it-is-set-0123456789"
        backend.action_resume()
        self.assertFalse(backend.paused)
