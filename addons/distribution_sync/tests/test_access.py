"""What a login may do with bindings and exceptions, and what a company sees
of another's, called over JSON-RPC as the web client calls it."""

from odoo.tests.common import HttpCase, new_test_user, tagged

from odoo.addons.distribution_connector.tests.common import RpcMixin

from .common import OrderImportMixin

USER = "sync.user@example.com"
PORTAL = "sync.portal@example.com"
MANAGER = "sync.manager@example.com"
USER_B = "sync.user.b@example.com"


@tagged("-at_install", "post_install")
class TestAccess(RpcMixin, OrderImportMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()
        cls.company_b = cls.env["res.company"].create(
            {"name": "Sync Access B", "currency_id": cls.company.currency_id.id}
        )
        cls.backend_b = cls.make_backend("Channel of B", company=cls.company_b)
        cls.mug_b = cls.make_product("Mug of B", "MUG-B", company=cls.company_b)
        cls.green = cls.make_product("Green mug", False, 8.5)
        user_group = "distribution_connector.group_distribution_user"
        cls.user = new_test_user(cls.env, login=USER, groups=user_group)
        new_test_user(cls.env, login=PORTAL, groups="base.group_portal")
        new_test_user(
            cls.env,
            login=MANAGER,
            groups="distribution_connector.group_distribution_manager",
        )
        new_test_user(
            cls.env,
            login=USER_B,
            groups=user_group,
            company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
        )

    def unknown_sku_order(self, external_id, sku="MUG-GREEN"):
        payload = self.order_payload(external_id=external_id)
        payload["lines"][0]["sku"] = sku
        exchange = self.import_order(payload)
        return self.assertOneException(exchange, "unknown_sku")

    def process_jobs(self, exchange):
        return self.env["queue.job"].search(
            [("func_string", "=", f"distribution.exchange({exchange.id},).process()")]
        )

    def binding_state(self, binding):
        return binding.read(["backend_id", "res_model", "res_id", "external_id"])[0]

    # -- bindings ------------------------------------------------------------

    def test_users_cannot_rebind_orders(self):
        self.import_order(self.order_payload())
        order = self.orders()
        binding = self.Binding._find(self.backend, "sale.order", "CH-1001")
        self.assertEqual(binding._record(), order)
        other_order = self.env["sale.order"].create({"partner_id": order.partner_id.id})
        before = self.binding_state(binding)
        for vals in (
            {"res_id": other_order.id},
            {"record_ref": f"sale.order,{other_order.id}"},
            {"res_model": "product.product", "res_id": self.mug_blue.id},
            {"external_id": "CH-2002"},
        ):
            with self.subTest(vals=vals):
                self.assertRpcRefused(
                    USER, "distribution.binding", "write", [binding.ids, vals]
                )
        self.assertRpcRefused(
            USER,
            "distribution.binding",
            "create",
            [
                {
                    "backend_id": self.backend.id,
                    "res_model": "sale.order",
                    "res_id": other_order.id,
                    "external_id": "CH-FORGED",
                }
            ],
        )
        self.assertEqual(self.binding_state(binding), before)
        self.assertFalse(self.Binding._find(self.backend, "sale.order", "CH-FORGED"))

    def test_bindings_point_to_records_of_their_company(self):
        mapping = {
            "backend_id": self.backend.id,
            "res_model": "product.product",
            "res_id": self.mug_b.id,
            "external_id": "SKU-OF-B",
        }
        for login in (USER, MANAGER):
            with self.subTest(login=login):
                self.assertRpcRefused(
                    login,
                    "distribution.binding",
                    "create",
                    [mapping],
                    error="ValidationError",
                )
                self.assertRpcRefused(
                    login,
                    "distribution.binding",
                    "create",
                    [dict(mapping, res_model="res.users", res_id=self.user.id)],
                    error="ValidationError",
                )
        # nor through a backend of another company
        self.assertRpcRefused(
            USER_B,
            "distribution.binding",
            "create",
            [dict(mapping, res_id=self.green.id)],
        )
        self.assertFalse(
            self.Binding._find(self.backend, "product.product", "SKU-OF-B")
        )

        # users keep their SKU mappings: products of the company or shared
        binding_id = self.rpc(
            USER,
            "distribution.binding",
            "create",
            [dict(mapping, res_id=self.green.id)],
        )
        binding = self.Binding.browse(binding_id)
        self.assertEqual(binding._record(), self.green)
        self.rpc(
            USER,
            "distribution.binding",
            "write",
            [binding.ids, {"record_ref": f"product.product,{self.mug_red.id}"}],
        )
        self.assertEqual(binding._record(), self.mug_red)
        self.assertRpcRefused(
            MANAGER,
            "distribution.binding",
            "write",
            [binding.ids, {"res_id": self.mug_b.id}],
            error="ValidationError",
        )
        self.assertEqual(binding._record(), self.mug_red)

    # -- exceptions: the review queue's actions ------------------------------------

    def test_users_change_exceptions_through_actions_only(self):
        exception = self.unknown_sku_order("CH-A")
        other = self.unknown_sku_order("CH-B", sku="MUG-PINK")
        for vals in (
            {"state": "resolved"},
            {"key": "MUG-BLUE"},
            {"exchange_id": other.exchange_id.id},
        ):
            with self.subTest(vals=vals):
                self.assertRpcRefused(
                    USER, "distribution.exception", "write", [exception.ids, vals]
                )
        self.assertEqual(exception.state, "open")
        self.assertEqual(exception.key, "MUG-GREEN")

        # assigning is a plain write
        self.rpc(
            USER,
            "distribution.exception",
            "write",
            [exception.ids, {"user_id": self.user.id}],
        )
        self.assertEqual(exception.user_id, self.user)

        # Retry: the exchange is processed again, by a job
        self.rpc(
            USER, "distribution.exception", "action_retry", [exception.ids], button=True
        )
        self.assertEqual(exception.exchange_id.state, "received")
        self.assertEqual(len(self.process_jobs(exception.exchange_id)), 1)

        # Ignore, with a reason
        wizard_id = self.rpc(
            USER,
            "distribution.exception.ignore",
            "create",
            [{"exception_ids": [(6, 0, other.ids)], "reason": "A test order"}],
        )
        self.rpc(
            USER,
            "distribution.exception.ignore",
            "action_ignore",
            [[wizard_id]],
            button=True,
        )
        self.assertEqual(other.state, "ignored")
        self.assertEqual(other.ignore_reason, "A test order")
        self.assertEqual(other.exchange_id.state, "ignored")

        self.assertRpcRefused(
            PORTAL,
            "distribution.exception",
            "action_retry",
            [exception.ids],
            button=True,
        )

    def test_users_map_skus_with_the_wizard(self):
        exception = self.unknown_sku_order("CH-A")
        wizard_id = self.rpc(
            USER,
            "distribution.sku.mapping",
            "create",
            [
                {
                    "backend_id": self.backend.id,
                    "sku": "MUG-GREEN",
                    "product_id": self.green.id,
                }
            ],
        )
        self.rpc(
            USER,
            "distribution.sku.mapping",
            "action_apply",
            [[wizard_id]],
            button=True,
        )
        binding = self.Binding._find(self.backend, "product.product", "MUG-GREEN")
        self.assertEqual(binding._record(), self.green)
        self.assertEqual(exception.exchange_id.state, "received")
        self.assertEqual(len(self.process_jobs(exception.exchange_id)), 1)

    # -- jobs and buttons running as superuser ------------------------------------

    def test_job_entry_points_and_manager_buttons(self):
        self.import_order(self.order_payload())
        picking = self.orders().picking_ids[:1]
        self.assertTrue(picking)
        calls = (
            ("distribution.backend", "pull_orders_job", [self.backend.ids], False),
            (
                "stock.picking",
                "distribution_export_fulfillment",
                [picking.ids],
                False,
            ),
            ("distribution.backend", "action_pull_orders", [self.backend.ids], True),
        )
        for login in (PORTAL, USER):
            for model, method, args, button in calls:
                with self.subTest(login=login, method=method):
                    self.assertRpcRefused(login, model, method, args, button=button)
        self.assertFalse(
            self.env["queue.job"].search([("method_name", "=", "pull_orders_job")])
        )
        self.assertFalse(
            self.Exchange.search(
                [("backend_id", "=", self.backend.id), ("direction", "=", "out")]
            )
        )
        self.assertFalse(
            self.env["distribution.call.log"].search(
                [("backend_id", "=", self.backend.id)]
            )
        )

    # -- item 3: what a company sees of another's --------------------------------

    def test_result_of_another_company_is_not_named(self):
        self.import_order(self.order_payload())
        order_a = self.orders()
        exchange_b = self.Exchange.create(
            {
                "backend_id": self.backend_b.id,
                "topic": "order",
                "kind": "order",
                "external_event_id": "evt-b-1",
                "raw_body": "{}",
                "state": "error",
                "res_model": "sale.order",
                "res_id": order_a.id,
            }
        )
        exception_b = self.Exception.create(
            {"exchange_id": exchange_b.id, "type": "internal", "message": "Boom"}
        )
        [row] = self.rpc(
            USER_B,
            "distribution.exception",
            "read",
            [exception_b.ids, ["result_name", "company_id"]],
        )
        self.assertEqual(row["company_id"][0], self.company_b.id)
        self.assertFalse(row["result_name"])
        for model, record in (
            ("distribution.exception", exception_b),
            ("distribution.exchange", exchange_b),
        ):
            with self.subTest(model=model):
                self.assertFalse(
                    self.rpc(
                        USER_B, model, "action_open_result", [record.ids], button=True
                    )
                )

        # a user of company A sees the name of its order (without sales rights)
        exchange_a = self.Exchange.search(
            [
                ("backend_id", "=", self.backend.id),
                ("res_model", "=", "sale.order"),
                ("res_id", "=", order_a.id),
            ]
        )
        exception_a = self.Exception.create(
            {"exchange_id": exchange_a.id, "type": "internal", "message": "Boom"}
        )
        [row] = self.rpc(
            USER,
            "distribution.exception",
            "read",
            [exception_a.ids, ["result_name"]],
        )
        self.assertEqual(row["result_name"], order_a.name)

    def test_queue_backlog_of_another_company_is_hidden(self):
        for _index in range(2):
            self.backend.with_delay().pull_orders_job()
        self.backend_b.with_company(self.company_b).with_delay().pull_orders_job()
        jobs = self.env["queue.job"].search([("method_name", "=", "pull_orders_job")])
        self.assertEqual(jobs.company_id, self.company | self.company_b)
        channel = jobs[0].channel

        def backlog(login):
            rows = self.rpc(
                login,
                "distribution.queue.backlog",
                "search_read",
                [[("channel", "=", channel)], ["backlog_count"]],
            )
            return sum(row["backlog_count"] for row in rows)

        waiting = ("pending", "wait_dependencies", "enqueued", "started")
        queued = self.env["queue.job"].search(
            [("channel", "=", channel), ("state", "in", waiting)]
        )
        self.assertEqual(backlog(USER_B), 1)
        self.assertEqual(
            backlog(USER),
            len(queued.filtered(lambda job: job.company_id == self.company)),
        )
