"""What a login may do with backends and exchanges, called over JSON-RPC as
the web client calls it: a view's ``groups`` only hides a button."""

from odoo.exceptions import UserError
from odoo.tests.common import HttpCase, new_test_user, tagged

from .common import DistributionTestMixin, RpcMixin

USER = "distribution.user@example.com"
PORTAL = "portal.user@example.com"
MANAGER = "distribution.manager@example.com"
MANAGER_B = "manager.of.b@example.com"
USER_B = "user.of.b@example.com"

#: backend buttons working with superuser rights
BACKEND_ACTIONS = (
    "action_revoke_previous_webhook_secret",
    "action_regenerate_webhook_token",
    "action_reencrypt_secrets",
    "action_pause",
    "action_resume",
)


@tagged("-at_install", "post_install")
class TestAccess(RpcMixin, DistributionTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()
        cls.Exchange = cls.env["distribution.exchange"].sudo()
        # a replaced secret: the previous one is still accepted for a while
        cls.backend.webhook_secret = "secret-of-Test channel-replaced-0123"
        cls.other = cls.make_backend("Other channel")
        cls.company_b = cls.env["res.company"].create({"name": "Access Company B"})
        cls.backend_b = cls.make_backend("Channel of B", company=cls.company_b)
        user_group = "distribution_connector.group_distribution_user"
        manager_group = "distribution_connector.group_distribution_manager"
        new_test_user(cls.env, login=USER, groups=user_group)
        new_test_user(cls.env, login=PORTAL, groups="base.group_portal")
        new_test_user(cls.env, login=MANAGER, groups=manager_group)
        for login, group in ((MANAGER_B, manager_group), (USER_B, user_group)):
            new_test_user(
                cls.env,
                login=login,
                groups=group,
                company_id=cls.company_b.id,
                company_ids=[(6, 0, cls.company_b.ids)],
            )

    def backend_state(self, backend=None):
        """What the backend buttons change, as stored."""
        backend = (backend or self.backend).sudo()
        return backend.read(
            [
                "webhook_token",
                "webhook_secret_enc",
                "webhook_secret_previous_enc",
                "webhook_secret_previous_until",
                "api_key_enc",
                "paused",
            ]
        )[0]

    def make_exchange(self, state="error", backend=None, event_id="evt-1"):
        return self.Exchange.create(
            {
                "backend_id": (backend or self.backend).id,
                "topic": "order",
                "kind": "order",
                "external_event_id": event_id,
                "raw_body": '{"external_id": "1001", "total": 42}',
                "content_type": "application/json",
                "state": state,
                "error": "Unknown SKU" if state == "error" else False,
            }
        )

    def process_jobs(self, exchange):
        return self.env["queue.job"].search(
            [("func_string", "=", f"distribution.exchange({exchange.id},).process()")]
        )

    # -- item 1: buttons running as superuser ------------------------------

    def test_backend_buttons_refused_to_portal_and_plain_users(self):
        before = self.backend_state()
        for login in (PORTAL, USER):
            for method in BACKEND_ACTIONS:
                with self.subTest(login=login, method=method):
                    self.assertRpcRefused(
                        login,
                        "distribution.backend",
                        method,
                        [self.backend.ids],
                        button=True,
                    )
            # on no record, the key rotation covers every backend
            with self.subTest(login=login, method="action_reencrypt_secrets([])"):
                self.assertRpcRefused(
                    login, "distribution.backend", "action_reencrypt_secrets", [[]]
                )
        self.assertEqual(self.backend_state(), before)
        self.assertTrue(before["webhook_secret_previous_enc"])

    def test_backend_buttons_for_managers_of_its_company_only(self):
        before = self.backend_state()
        for method in BACKEND_ACTIONS[:3]:
            with self.subTest(method=method):
                self.assertRpcRefused(
                    MANAGER_B,
                    "distribution.backend",
                    method,
                    [self.backend.ids],
                    button=True,
                )
        self.assertEqual(self.backend_state(), before)

        self.rpc(
            MANAGER,
            "distribution.backend",
            "action_regenerate_webhook_token",
            [self.backend.ids],
            button=True,
        )
        self.rpc(
            MANAGER,
            "distribution.backend",
            "action_revoke_previous_webhook_secret",
            [self.backend.ids],
            button=True,
        )
        after = self.backend_state()
        self.assertNotEqual(after["webhook_token"], before["webhook_token"])
        self.assertFalse(after["webhook_secret_previous_enc"])
        self.assertFalse(after["webhook_secret_previous_until"])

        # the key rotation called on no record: the caller's backends only
        before_b = self.backend_state(self.backend_b)
        self.rpc(MANAGER, "distribution.backend", "action_reencrypt_secrets", [[]])
        self.assertNotEqual(
            self.backend_state()["webhook_secret_enc"], after["webhook_secret_enc"]
        )
        self.assertEqual(self.backend_state(self.backend_b), before_b)

    def test_job_entry_points_are_not_rpc_endpoints(self):
        exchange = self.make_exchange(state="received")
        calls = (
            ("dispatch", [self.backend.id]),
            ("process", [exchange.ids]),
        )
        for login in (PORTAL, USER, MANAGER):
            for method, args in calls:
                with self.subTest(login=login, method=method):
                    self.assertRpcRefused(login, "distribution.exchange", method, args)
        self.assertEqual(exchange.state, "received")
        self.assertEqual(exchange.attempts, 0)
        self.assertFalse(exchange.dispatched_at)
        self.assertFalse(self.process_jobs(exchange))

    # -- item 2: what users change goes through checked actions -------------

    def test_users_cannot_write_exchanges(self):
        exchange = self.make_exchange()
        stored = exchange.read(["raw_body", "kind", "backend_id", "state"])[0]
        forged = {
            "raw_body": '{"external_id": "1001", "total": 0}',
            "kind": "shipment",
            "backend_id": self.other.id,
            "state": "received",
        }
        for login in (USER, PORTAL):
            for name, value in forged.items():
                with self.subTest(login=login, field=name):
                    self.assertRpcRefused(
                        login,
                        "distribution.exchange",
                        "write",
                        [exchange.ids, {name: value}],
                    )
        self.assertEqual(
            exchange.read(["raw_body", "kind", "backend_id", "state"])[0], stored
        )
        self.assertFalse(self.process_jobs(exchange))

    def test_what_an_exchange_is_never_changes(self):
        exchange = self.make_exchange()
        forged = {
            "raw_body": '{"external_id": "1001", "total": 0}',
            "kind": "shipment",
            "backend_id": self.other.id,
            "external_event_id": "evt-forged",
            "topic": "shipment",
        }
        for name, value in forged.items():
            with self.subTest(field=name):
                self.assertRpcRefused(
                    MANAGER,
                    "distribution.exchange",
                    "write",
                    [exchange.ids, {name: value}],
                    error="UserError",
                )
                # nor by the code itself, as superuser
                with self.assertRaises(UserError):
                    exchange.write({name: value})
        self.assertEqual(exchange.raw_body, '{"external_id": "1001", "total": 42}')
        self.assertEqual(exchange.kind, "order")
        self.assertEqual(exchange.backend_id, self.backend)
        self.assertEqual(exchange.external_event_id, "evt-1")
        # the same values, and what a manager may change, are accepted
        self.rpc(
            MANAGER,
            "distribution.exchange",
            "write",
            [exchange.ids, {"kind": "order", "error": "Reviewed"}],
        )
        self.assertEqual(exchange.error, "Reviewed")

    def test_users_retry_and_ignore_through_the_actions(self):
        failed = self.make_exchange()
        self.rpc(
            USER, "distribution.exchange", "action_retry", [failed.ids], button=True
        )
        self.assertEqual(failed.state, "received")
        self.assertEqual(len(self.process_jobs(failed)), 1)

        other = self.make_exchange(event_id="evt-2")
        self.rpc(
            USER, "distribution.exchange", "action_ignore", [other.ids], button=True
        )
        self.assertEqual(other.state, "ignored")

        for method in ("action_retry", "action_ignore"):
            with self.subTest(method=method):
                self.assertRpcRefused(
                    PORTAL, "distribution.exchange", method, [failed.ids], button=True
                )

    def test_users_act_on_exchanges_of_their_companies_only(self):
        exchange = self.make_exchange()
        for method in ("action_retry", "action_ignore"):
            with self.subTest(method=method):
                self.assertRpcRefused(
                    USER_B, "distribution.exchange", method, [exchange.ids], button=True
                )
        self.assertEqual(exchange.state, "error")
        self.assertFalse(self.process_jobs(exchange))

    def test_call_logs_are_read_only_and_of_their_companies(self):
        calls = self.env["distribution.call.log"].create(
            [
                {"backend_id": backend.id, "method": "GET", "path": "/orders"}
                for backend in (self.backend, self.backend_b)
            ]
        )
        call_a, call_b = calls
        for login in (USER, MANAGER):
            with self.subTest(login=login):
                self.assertRpcRefused(
                    login,
                    "distribution.call.log",
                    "write",
                    [call_a.ids, {"path": "/forged"}],
                )
                self.assertRpcRefused(
                    login,
                    "distribution.call.log",
                    "create",
                    [{"backend_id": self.backend.id, "path": "/forged"}],
                )
        self.assertEqual(call_a.path, "/orders")
        for login, visible in ((USER, call_a), (USER_B, call_b)):
            with self.subTest(login=login):
                rows = self.rpc(
                    login,
                    "distribution.call.log",
                    "search_read",
                    [[("id", "in", calls.ids)]],
                    {"fields": ["path"]},
                )
                self.assertEqual([row["id"] for row in rows], visible.ids)

    def test_jobs_run_as_a_distribution_manager(self):
        user = self.env["res.users"].search([("login", "=", USER)])
        with self.assertRaises(UserError):
            self.backend.job_user_id = user
        manager = self.env["res.users"].search([("login", "=", MANAGER)])
        self.backend.job_user_id = manager
        self.assertEqual(self.backend.job_user_id, manager)
