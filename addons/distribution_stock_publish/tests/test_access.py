"""What a login may do with publish rules and stock levels, called over
JSON-RPC as the web client calls it."""

from odoo.tests.common import HttpCase, new_test_user, tagged
from odoo.tools import SQL

from odoo.addons.distribution_connector.tests.common import RpcMixin

from .common import StockPublishMixin

USER = "publish.user@example.com"
PORTAL = "publish.portal@example.com"
MANAGER = "publish.manager@example.com"
MANAGER_B = "publish.manager.b@example.com"


@tagged("-at_install", "post_install")
class TestAccess(RpcMixin, StockPublishMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockPublish()
        cls.put(cls.mug, 10, cls.wh1)
        cls.channel, cls.rule = cls.make_channel("Access channel")
        user_group = "distribution_connector.group_distribution_user"
        manager_group = "distribution_connector.group_distribution_manager"
        new_test_user(cls.env, login=USER, groups=user_group)
        new_test_user(cls.env, login=PORTAL, groups="base.group_portal")
        new_test_user(cls.env, login=MANAGER, groups=manager_group)
        company_b = cls.env["res.company"].create({"name": "Publish Access B"})
        new_test_user(
            cls.env,
            login=MANAGER_B,
            groups=manager_group,
            company_id=company_b.id,
            company_ids=[(6, 0, company_b.ids)],
        )

    def setUp(self):
        super().setUp()
        self.recompute()
        self.mug_level = self.level(self.channel)
        # computed, never published: it differs, the next sweep exports it
        self.assertEqual(self.mug_level.state, "clean")
        self.assertEqual(self.mug_level.computed_qty, 10)
        self.assertTrue(self.mug_level.differs)

    def set_state(self, level, state):
        self.env.cr.execute(
            SQL(
                "UPDATE distribution_stock_level SET state = %s WHERE id = %s",
                state,
                level.id,
            )
        )
        level.invalidate_recordset(["state"])

    def level_state(self, level):
        return level.read(["state", "computed_qty", "published_qty", "published_at"])[0]

    def publish_jobs(self):
        return self.env["queue.job"].search(
            [
                ("model_name", "=", "distribution.stock.level"),
                ("method_name", "in", ("sweep", "export_batch")),
            ]
        )

    def test_superuser_work_refused_to_portal_and_plain_users(self):
        level = self.mug_level
        self.set_state(level, "dirty")
        before = self.level_state(level)
        jobs = self.publish_jobs()
        rule, channel = self.rule, self.channel
        calls = (
            ("distribution.stock.level", "sweep", [], False),
            ("distribution.stock.level", "action_recompute_now", [level.ids], True),
            ("distribution.stock.level", "action_publish_now", [level.ids], True),
            ("distribution.publish.rule", "action_recompute_now", [rule.ids], True),
            ("distribution.publish.rule", "action_publish_now", [rule.ids], True),
            ("distribution.backend", "action_check_stock_drift", [channel.ids], True),
        )
        for login in (PORTAL, USER):
            for model, method, args, button in calls:
                with self.subTest(login=login, model=model, method=method):
                    self.assertRpcRefused(login, model, method, args, button=button)
        self.assertEqual(self.level_state(level), before)
        self.assertEqual(self.publish_jobs(), jobs)
        self.assertFalse(
            self.env["queue.job"].search(
                [("method_name", "=", "check_stock_drift_job")]
            )
        )

    def test_job_entry_points_are_not_rpc_endpoints(self):
        level = self.mug_level
        self.set_state(level, "exporting")
        before = self.level_state(level)
        calls = (
            ("distribution.stock.level", "sweep", []),
            ("distribution.stock.level", "export_batch", [level.ids]),
            ("distribution.backend", "check_stock_drift_job", [self.channel.ids]),
        )
        for login in (PORTAL, USER, MANAGER):
            for model, method, args in calls:
                with self.subTest(login=login, method=method):
                    self.assertRpcRefused(login, model, method, args)
        self.assertEqual(self.level_state(level), before)

    def test_users_cannot_write_stock_levels(self):
        level = self.mug_level
        before = self.level_state(level)
        for login in (USER, PORTAL):
            for vals in ({"computed_qty": 500}, {"state": "dirty"}):
                with self.subTest(login=login, vals=vals):
                    self.assertRpcRefused(
                        login,
                        "distribution.stock.level",
                        "write",
                        [level.ids, vals],
                    )
        self.assertEqual(self.level_state(level), before)

    def test_managers_publish_in_their_companies(self):
        level = self.mug_level
        for model, records in (
            ("distribution.stock.level", level),
            ("distribution.publish.rule", self.rule),
        ):
            with self.subTest(model=model):
                self.assertRpcRefused(
                    MANAGER_B, model, "action_publish_now", [records.ids], button=True
                )
        self.assertEqual(level.state, "clean")

        self.rpc(
            MANAGER,
            "distribution.stock.level",
            "action_publish_now",
            [level.ids],
            button=True,
        )
        self.assertEqual(level.state, "exporting")
        export = self.publish_jobs().filtered(
            lambda job: job.method_name == "export_batch"
        )
        self.assertEqual(len(export), 1)
        self.assertEqual(export.records, level)
