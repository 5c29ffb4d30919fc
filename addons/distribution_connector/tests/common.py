"""Test helpers shared by the Distribution Sync addons."""

import copy
import json
import os
from contextlib import contextmanager
from functools import cache
from operator import attrgetter
from unittest.mock import patch

from cryptography.fernet import Fernet

from odoo import SUPERUSER_ID, api
from odoo.orm.environments import Transaction
from odoo.tests.common import JsonRpcException
from odoo.tools.convert import convert_file

from odoo.addons.queue_job.tests.common import trap_jobs

from ..adapters.generic_json import EVENT_ID_HEADER, sign
from ..models.distribution_backend import DistributionBackend
from .fake_server import FakeServer


def json_fixtures(folder):
    """``fixture(name)``: a fresh copy of the JSON file ``name`` of
    ``folder`` (each file read once)."""

    @cache
    def read(name):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            return json.load(handle)

    def fixture(name):
        return copy.deepcopy(read(name))

    return fixture


#: one key for the whole test run, unless the server already has one
TEST_KEY = Fernet.generate_key().decode()
KEYS_ENV = "DISTRIBUTION_ENCRYPTION_KEYS"


def load_demo(env, *files):
    """Load demo files (``"<addon>/<path>"``) as installing the addons with
    demo data does; their ``<function>`` tags run too. The test database
    has no demo data: the demo tests load it themselves."""
    for name in files:
        addon, path = name.split("/", 1)
        convert_file(env, addon, path, {}, mode="init", noupdate=True)


@contextmanager
def encryption_keys(keys):
    """Run with exactly these server keys (a comma-separated string or '')."""
    with patch.dict(os.environ, {KEYS_ENV: keys}):
        yield


@contextmanager
def committed_env(registry):
    """An environment on its own real transaction, committed on exit.

    For tests of what concurrent workers do: unlike ``registry.cursor()`` in
    tests, this cursor is independent from the test's transaction. The
    registry is handed over explicitly because the test runner holds the
    registry lock while tests run (a thread looking it up would wait).
    """
    with registry._db.cursor() as cr:
        cr.transaction = Transaction(registry)
        yield api.Environment(cr, SUPERUSER_ID, {})


def commit_backend(testcase, name):
    """A backend committed for real (with a webhook secret), deleted again
    with everything it received in the test's cleanup; return its id."""
    registry = testcase.registry
    with committed_env(registry) as env:
        backend_id = (
            env["distribution.backend"]
            .create({"name": name, "webhook_secret": f"secret-of-{name}-0123456789"})
            .id
        )

    def cleanup():
        with committed_env(registry) as env:
            backend = env["distribution.backend"].browse(backend_id)
            dispatcher = env["distribution.exchange"]._dispatcher_identity_key(backend)
            env.cr.execute(
                "DELETE FROM queue_job WHERE identity_key LIKE %s",
                [f"{dispatcher}%"],
            )
            env.cr.execute(
                "DELETE FROM distribution_exchange WHERE backend_id = %s", [backend_id]
            )
            env.cr.execute(
                "DELETE FROM mail_message WHERE model = %s AND res_id = %s",
                ["distribution.backend", backend_id],
            )
            env.cr.execute(
                "DELETE FROM distribution_backend WHERE id = %s", [backend_id]
            )

    testcase.addCleanup(cleanup)
    return backend_id


def use_test_adapter(testcase, adapter_class):
    """Make ``adapter_class`` a choice of the backend's ``adapter`` field for
    the test class (a channel played by the test itself): its code in the
    selection, its class returned by ``_get_adapter_class()``."""

    base = DistributionBackend._get_adapter_class

    def _get_adapter_class(self):
        if self.adapter == adapter_class.code:
            return adapter_class
        return base(self)

    field = testcase.env["distribution.backend"]._fields["adapter"]
    testcase.startClassPatcher(
        patch.object(DistributionBackend, "_get_adapter_class", _get_adapter_class)
    )
    testcase.startClassPatcher(
        patch.dict(field._selection, {adapter_class.code: adapter_class.label})
    )


class DistributionTestMixin:
    """Backends with secrets, signed payloads and webhook URLs."""

    @classmethod
    def setUpDistribution(cls):
        if not os.environ.get(KEYS_ENV):
            cls.enterClassContext(encryption_keys(TEST_KEY))
        cls.company = cls.env.company
        cls.backend = cls.make_backend("Test channel")

    @classmethod
    def setUpChannel(cls):
        """What the shared mixins (webhooks, publishing) set up first: a
        generic JSON backend here; each adapter's test mixin sets up a
        backend of its own adapter."""
        cls.setUpDistribution()

    @classmethod
    def make_backend(cls, name, company=None, secret=None, **vals):
        backend = cls.env["distribution.backend"].create(
            {
                "name": name,
                "company_id": (company or cls.env.company).id,
                "adapter": "generic_json",
                "webhook_secret": secret or f"secret-of-{name}-0123456789",
                **vals,
            }
        )
        return backend

    @staticmethod
    def signed(secret, payload, event_id=None):
        """(body bytes, headers) of a generic JSON webhook."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Distribution-Signature": sign(secret, body),
        }
        if event_id:
            headers[EVENT_ID_HEADER] = event_id
        return body, headers

    @staticmethod
    def webhook_path(backend, topic="order"):
        return f"/distribution/webhook/{backend.sudo().webhook_token}/{topic}"

    def run_trapped_jobs(self, trap, rounds=10):
        """Run the trapped jobs, then the jobs they enqueue, until none is
        left; return the jobs run, in order.

        Each job runs in the test's environment with the user and context it
        was enqueued with (jobs trapped during an ``HttpCase`` request hold
        the request's closed cursor), highest priority first as the runner
        does. A webhook's dispatcher thus enqueues the exchange's ``process``
        job, which runs in the next round.
        """
        done = []
        for _round in range(rounds):
            jobs, trap.enqueued_jobs = trap.enqueued_jobs, []
            if not jobs:
                return done
            for job in sorted(jobs, key=attrgetter("priority")):
                job_env = job.recordset.env
                env = self.env(
                    user=job_env.uid, context=dict(job_env.context, job_uuid=job.uuid)
                )
                records = job.recordset.with_env(env)
                job.result = getattr(records, job.method_name)(*job.args, **job.kwargs)
                done.append(job)
        raise AssertionError(f"jobs still enqueued after {rounds} rounds")


class ChannelSetUpMixin:
    """Sets the test class's channel up once (``setUpChannel``)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpChannel()


class WebhookTestMixin(DistributionTestMixin):
    """Deliveries posted to the real webhook route (``HttpCase``)."""

    #: the URL's last segment a delivery is posted to unless told
    url_topic = "order"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpChannel()
        cls.Exchange = cls.env["distribution.exchange"].sudo()

    def post(self, body, headers, backend=None, url_topic=None):
        return self.url_open(
            self.webhook_path(backend or self.backend, url_topic or self.url_topic),
            data=body,
            headers=headers,
        )

    def exchanges(self, backend=None):
        return (
            self.env["distribution.exchange"]
            .sudo()
            .search([("backend_id", "=", (backend or self.backend).id)])
        )

    def post_accepted(self, body, headers, **options):
        """Post a delivery that is stored: answered ``accepted``, one job
        (the backend's dispatcher) enqueued. Return the response."""
        with trap_jobs() as trap:
            response = self.post(body, headers, **options)
            self.assertEqual(response.status_code, 200, response.text)
            self.assertEqual(response.json()["status"], "accepted")
            trap.assert_jobs_count(1)
        return response

    def assertSameEvent(self, first, second):
        """Two deliveries (``(body, headers)``) of one event: the second is
        answered ``duplicate``; one exchange, one job."""
        with trap_jobs() as trap:
            first_answer = self.post(*first).json()
            second_answer = self.post(*second).json()
            trap.assert_jobs_count(1)
        self.assertEqual(
            (first_answer["status"], second_answer["status"]),
            ("accepted", "duplicate"),
        )
        self.assertEqual(first_answer["exchange_id"], second_answer["exchange_id"])
        self.assertEqual(len(self.exchanges()), 1)

    def assertRefused(self, body, headers, **options):
        """The delivery is answered 401: nothing stored, nothing enqueued."""
        with trap_jobs() as trap:
            self.assertEqual(self.post(body, headers, **options).status_code, 401)
            trap.assert_jobs_count(0)
        self.assertFalse(self.exchanges(options.get("backend")))

    def assertKeptAsSent(self, exchange, body, signature_header):
        """The exchange holds the raw body as sent and the trace headers,
        never the signature; return the headers kept."""
        self.assertEqual(exchange.raw_body.encode(), body)
        kept = json.loads(exchange.headers)
        self.assertNotIn(signature_header, kept)
        return kept


class FakeChannelMixin(DistributionTestMixin):
    """A channel's API played by a ``FakeServer`` on 127.0.0.1, called through
    the shared HTTP client; the client's waits are recorded in
    ``self.waits``, not slept. The adapter addons' outbound tests use it."""

    @classmethod
    def setUpFakeChannel(cls):
        # the HTTP client logs and throttles through cursors of its own
        cls.registry_enter_test_mode_cls()
        cls.server = FakeServer().start()
        cls.addClassCleanup(cls.server.stop)

    @classmethod
    def setUpChannel(cls):
        """The fake server, then the channel's backend."""
        cls.setUpFakeChannel()
        return super().setUpChannel()

    def setUp(self):
        super().setUp()
        self.reset_fake_channel()

    @classmethod
    def fake_channel_vals(cls, **vals):
        """Backend values that send its calls to the fake server at once."""
        return {
            "api_base_url": cls.server.url,
            "allow_private_network": True,
            "rate_limit_per_second": 0,
            **vals,
        }

    def reset_fake_channel(self):
        """Forget what an earlier test asked and scripted."""
        self.server.requests.clear()
        self.server.scripts.clear()
        self.server.handlers.clear()
        self.waits = []

    def recording_adapter(self, backend=None):
        """The backend's adapter, its clients sleeping into ``self.waits``."""
        adapter = (backend or self.backend)._get_adapter()
        waits = self.waits

        def http_client():
            return adapter.http_client_class(adapter.backend, sleep=waits.append)

        adapter.http_client = http_client
        return adapter

    def failing(self, error_class, function, *args, **kwargs):
        """The error ``function(*args)`` raises (a generator is run to its
        end). Unlike ``assertRaises`` in Odoo tests, this keeps what the
        call wrote (its outbound log)."""
        try:
            result = function(*args, **kwargs)
            if hasattr(result, "__next__"):
                list(result)
        except error_class as err:
            return err
        self.fail(f"{error_class.__name__} not raised")


class RpcMixin:
    """Calls made the way the web client makes them (``HttpCase``): JSON-RPC
    to ``/web/dataset/call_kw`` (ORM and model methods) or
    ``/web/dataset/call_button`` (a button), logged in as a user whose
    password is its login (``new_test_user``)."""

    def rpc(self, login, model, method, args, kwargs=None, button=False):
        self.authenticate(login, login)
        route = "call_button" if button else "call_kw"
        result = self.make_jsonrpc_request(
            f"/web/dataset/{route}/{model}.{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )
        # what the request changed, read afresh by the test
        self.env.invalidate_all()
        return result

    def assertRpcRefused(self, login, model, method, args, kwargs=None, **options):
        """The call ends with an ``AccessError`` (or ``error``, another
        exception class of ``odoo.exceptions``) answered to the client."""
        error = options.pop("error", "AccessError")
        with self.assertRaises(JsonRpcException) as caught:
            self.rpc(login, model, method, args, kwargs, **options)
        self.env.invalidate_all()
        self.assertEqual(
            str(caught.exception),
            f"odoo.exceptions.{error}",
            f"{login} calling {model}.{method}",
        )
