"""Who reads what the other side answered to an outbound call, over RPC."""

from odoo.tests.common import HttpCase, JsonRpcException, new_test_user, tagged

from ..errors import PermanentError
from ..http_client import BackendHttpClient
from .common import DistributionTestMixin
from .fake_server import FakeServer

ANSWER = {"error": "card 4242 of Jane Doe declined by acquirer node 7"}


@tagged("-at_install", "post_install")
class TestCallLogAccess(DistributionTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()
        cls.server = FakeServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.backend.write(
            {
                "api_base_url": cls.server.url + "/api",
                "allow_private_network": True,
                "rate_limit_per_second": 0,
            }
        )
        for login, group in (
            ("call_log_user", "group_distribution_user"),
            ("call_log_manager", "group_distribution_manager"),
        ):
            new_test_user(
                cls.env, login=login, groups=f"distribution_connector.{group}"
            )

    def rpc(self, login, method, args, kwargs=None):
        self.authenticate(login, login)
        model = "distribution.call.log"
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )

    def refused_call(self):
        """An outbound call the other side refuses; return its log."""
        self.server.add("POST", "/api/charges", status=402, json_body=ANSWER)
        client = BackendHttpClient(self.backend)
        try:
            client.request("POST", "charges", topic="payment", json={})
        except PermanentError as err:
            self.assertTrue(err.message.startswith(f"POST {self.server.url}"))
        else:
            self.fail("the call did not fail")
        return self.env["distribution.call.log"].search(
            [("backend_id", "=", self.backend.id)]
        )

    def test_users_read_the_status_line_managers_the_answer(self):
        call = self.refused_call()
        self.assertEqual(len(call), 1)
        # a Distribution User sees that the call failed, and how
        [row] = self.rpc(
            "call_log_user", "read", [call.ids], {"fields": ["error", "state"]}
        )
        self.assertEqual(row["state"], "error")
        self.assertIn("HTTP 402", row["error"])
        self.assertNotIn("declined", row["error"])
        # not what the other side answered
        with self.assertRaises(JsonRpcException) as caught:
            self.rpc("call_log_user", "read", [call.ids], {"fields": ["response_body"]})
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
        [row] = self.rpc("call_log_user", "read", [call.ids])
        self.assertNotIn("response_body", row)
        self.assertNotIn("declined", repr(row))
        # a manager does
        [row] = self.rpc(
            "call_log_manager", "read", [call.ids], {"fields": ["response_body"]}
        )
        self.assertIn("card 4242 of Jane Doe declined", row["response_body"])
