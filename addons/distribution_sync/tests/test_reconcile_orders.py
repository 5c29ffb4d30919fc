"""Reconciliation of orders: what the webhooks missed is pulled, once."""

import json
import threading
from datetime import timedelta
from operator import attrgetter
from unittest.mock import patch

from odoo import fields
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.adapters.generic_json import (
    GenericJsonAdapter,
)
from odoo.addons.distribution_connector.http_client import BackendHttpClient
from odoo.addons.distribution_connector.tests.common import use_test_adapter
from odoo.addons.distribution_connector.tests.fake_server import FakeServer
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.tests.common import trap_jobs

from ..flows.order_import import OrderImport
from .common import (
    BASE_ORDER,
    CommittedDataMixin,
    OrderImportMixin,
    own_transaction,
)

WORKER_TIMEOUT = 60


@tagged("-at_install", "post_install")
class TestPullOrders(OrderImportMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the HTTP client logs each call through a cursor of its own
        cls.registry_enter_test_mode_cls()
        cls.setUpOrderImport()
        cls.channel = FakeServer().start()
        cls.addClassCleanup(cls.channel.stop)
        cls.backend.write(
            {
                "api_base_url": cls.channel.url,
                "allow_private_network": True,
                "rate_limit_per_second": 0,
                "order_pull_overlap_minutes": 10,
            }
        )
        cls.Watermark = cls.env["distribution.watermark"]

    def setUp(self):
        super().setUp()
        self.channel.requests.clear()
        self.channel.scripts.clear()
        self.channel.handlers.clear()
        self.patch(BackendHttpClient, "backoff", 0)

    def order(self, external_id, updated_at="2025-03-01T10:00:00Z"):
        return self.order_payload(
            external_id=external_id, name=f"#{external_id}", updated_at=updated_at
        )

    def pages(self, *pages):
        """Script the channel's order list, page after page."""
        for index, orders in enumerate(pages, start=1):
            self.channel.add(
                "GET",
                "/orders",
                json_body={
                    "orders": orders,
                    "next_page": index + 1 if index < len(pages) else None,
                },
            )

    def perform(self, trap):
        """Do what the job runner would: run the trapped jobs, then process
        every exchange waiting in the inbox, as the backend's dispatcher
        enqueues it (a dispatcher may already wait for real in the test's
        database, where no runner starts it)."""
        for job in sorted(trap.enqueued_jobs, key=attrgetter("priority")):
            job.perform()
        trap.enqueued_jobs.clear()
        waiting = self.env["distribution.exchange"].search(
            [("state", "=", "received"), ("direction", "=", "in")], order="id"
        )
        for exchange in waiting:
            exchange.process()

    def pull(self):
        with trap_jobs() as trap:
            result = self.backend._pull_orders()
        return result, trap

    def watermark(self):
        return self.Watermark.search(
            [("backend_id", "=", self.backend.id), ("flow", "=", "order_pull")]
        )

    def test_missed_orders_are_imported_exactly_once(self):
        # the webhook of CH-1 came; those of CH-2 and CH-3 were lost
        self.import_order(self.order("CH-1"))
        self.pages([self.order("CH-1"), self.order("CH-2")], [self.order("CH-3")])
        started = fields.Datetime.now()
        result, trap = self.pull()
        self.assertEqual(result, "3 orders pulled, 2 new, 1 already imported")
        calls = self.channel.calls("GET", "/orders")
        self.assertEqual([call.query["page"] for call in calls], [["1"], ["2"]])
        # a first pull starts at the backend's creation, minus the overlap
        since = self.backend.create_date - timedelta(minutes=10)
        self.assertEqual(
            calls[0].query["updated_since"], [since.strftime("%Y-%m-%dT%H:%M:%SZ")]
        )
        # the new ones go through the inbox and the webhook's job
        self.perform(trap)
        pulled = self.env["distribution.exchange"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("external_event_id", "=like", "pull:%"),
            ]
        )
        self.assertEqual(len(pulled), 2)
        self.assertEqual(set(pulled.mapped("state")), {"done"})
        for external_id in ("CH-1", "CH-2", "CH-3"):
            self.assertEqual(len(self.orders(external_id)), 1, external_id)
        pulled = self.Exchange.search(
            [
                ("backend_id", "=", self.backend.id),
                ("external_event_id", "like", "pull:%"),
            ]
        )
        self.assertEqual(sorted(pulled.mapped("external_ref")), ["CH-2", "CH-3"])
        self.assertEqual(set(pulled.mapped("state")), {"done"})
        mark = self.watermark()
        self.assertGreaterEqual(mark.watermark, started)
        self.assertIn("2 new", mark.last_result)

    def test_a_second_pull_starts_at_the_watermark_and_collapses(self):
        self.pages([self.order("CH-2")])
        _result, trap = self.pull()
        self.perform(trap)
        first_run = self.watermark().watermark
        # the same version is listed again (overlap): stored once
        self.pages([self.order("CH-2"), self.order("CH-4")])
        result, trap = self.pull()
        self.assertEqual(result, "2 orders pulled, 1 new, 1 already imported")
        call = self.channel.calls("GET", "/orders")[-1]
        since = first_run - timedelta(minutes=10)
        self.assertEqual(
            call.query["updated_since"], [since.strftime("%Y-%m-%dT%H:%M:%SZ")]
        )
        self.perform(trap)
        self.assertEqual(len(self.orders("CH-2")), 1)
        self.assertEqual(len(self.orders("CH-4")), 1)
        # a newer version of a known order is pulled and updates it
        self.pages([self.order("CH-4", updated_at="2025-03-02T10:00:00Z")])
        result, trap = self.pull()
        self.assertEqual(result, "1 orders pulled, 1 new, 0 already imported")
        self.perform(trap)
        self.assertEqual(len(self.orders("CH-4")), 1)

    def test_stored_but_unprocessed_pull_collapses_on_replay(self):
        self.pages([self.order("CH-5")])
        _result, first = self.pull()
        # the next run lists the same version before the job ran: no new row
        self.pages([self.order("CH-5")])
        result, second = self.pull()
        self.assertEqual(result, "1 orders pulled, 0 new, 0 already imported")
        self.assertFalse(second.enqueued_jobs)
        self.perform(first)
        self.assertEqual(len(self.orders("CH-5")), 1)

    def test_webhook_processed_between_page_fetch_and_processing(self):
        """The page is fetched; the lost webhook arrives after all and is
        processed before the pull handles the page: one order."""
        self.pages([self.order("CH-6"), self.order("CH-7")])
        original = GenericJsonAdapter.pull_orders
        test = self

        def pull_orders(adapter, updated_since):
            items = original(adapter, updated_since)
            first = next(items)  # the page is in hand
            test.import_order(test.order("CH-6"), event_id="webhook-ch-6")
            yield first
            yield from items

        with patch.object(GenericJsonAdapter, "pull_orders", pull_orders):
            result, trap = self.pull()
        self.assertEqual(result, "2 orders pulled, 1 new, 1 already imported")
        self.perform(trap)
        self.assertEqual(len(self.orders("CH-6")), 1)
        self.assertEqual(len(self.orders("CH-7")), 1)

    def test_webhook_processed_between_storing_and_the_pulled_job(self):
        """The pulled order is in the inbox, its job not run yet, when the
        webhook is processed: the pulled job finds the order, creates none."""
        self.pages([self.order("CH-8")])
        _result, trap = self.pull()
        webhook = self.import_order(self.order("CH-8"), event_id="webhook-ch-8")
        order = self.orders("CH-8")
        self.assertEqual(len(order), 1)
        self.perform(trap)
        self.assertEqual(self.orders("CH-8"), order)
        pulled = (
            self.Exchange.search(
                [("backend_id", "=", self.backend.id), ("external_ref", "=", "CH-8")]
            )
            - webhook
        )
        self.assertEqual(pulled.state, "done")
        self.assertEqual(pulled.res_id, order.id)

    def test_transient_failure_keeps_the_watermark(self):
        self.pages([self.order("CH-9")])
        self.pull()
        mark = self.watermark()
        before = mark.watermark
        self.channel.route("GET", "/orders", lambda recorded: (503, {}, {}))
        result, _trap = self.pull()
        self.assertTrue(result.endswith("retried at the next run"), result)
        self.assertEqual(mark.watermark, before)
        # as a job, it retries
        with self.assertRaises(RetryableJobError):
            self.backend.pull_orders_job()

    def test_malformed_list_is_reported_on_the_backend(self):
        self.channel.add("GET", "/orders", json_body={"orders": "nope"})
        result, _trap = self.pull()
        self.assertEqual(result, "failed: invalid_response")
        self.assertIn("Pulling missed orders failed", self.backend.message_ids[0].body)
        self.assertFalse(self.watermark().watermark)

    def test_cron_pulls_every_backend_that_can(self):
        other = self.make_backend("Pull-less channel", order_pull_enabled=False)
        self.pages([self.order("CH-10")])
        with trap_jobs() as trap:
            results = self.env["distribution.backend"]._cron_pull_orders()
        self.assertIn(self.backend.id, results)
        self.assertNotIn(other.id, results)
        self.assertEqual(len(trap.enqueued_jobs), 1)

    def test_pull_button_enqueues_a_reconcile_job(self):
        with trap_jobs() as trap:
            self.backend.action_pull_orders()
        trap.assert_jobs_count(1)
        job = trap.enqueued_jobs[0]
        self.assertEqual(job.method_name, "pull_orders_job")
        self.assertEqual(job.channel, "root.distribution.reconcile")
        self.assertEqual(job.args, ())


class InMemoryPullAdapter(GenericJsonAdapter):
    """A channel whose order list is held in memory, for races between real
    transactions (an HTTP call from a worker thread would log through a
    cursor of the test's own transaction)."""

    code = "test_pull"
    label = "Test channel pulled from memory"
    orders = []
    #: called once the page is in hand, before it is handled
    after_fetch = None

    def pull_orders(self, updated_since):
        page = [dict(order) for order in self.orders]
        if self.after_fetch:
            type(self).after_fetch()
        for order in page:
            yield {
                "topic": "order",
                "event_id": f"pull:{order['external_id']}:{order['updated_at']}",
                "external_ref": order["external_id"],
                "payload": order,
            }


@tagged("-at_install", "post_install")
class TestPullRaces(CommittedDataMixin, TransactionCase):
    """The webhook of an order arrives while the pull handles it, in another
    real transaction: the order is created once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpCommittedData()
        use_test_adapter(cls, InMemoryPullAdapter)

    def setUp(self):
        super().setUp()
        self.backend_id, currency = self.commit_backend("Pull race", "PULL-MUG")
        with own_transaction(self.registry) as env:
            backends = env["distribution.backend"].with_context(tracking_disable=True)
            backends.browse(self.backend_id).adapter = "test_pull"
        self.payload = dict(
            BASE_ORDER,
            external_id="PULL-1",
            currency=currency,
            customer={"external_id": "PULL-CUST", "name": "Pulled Customer"},
            lines=[{"sku": "PULL-MUG", "quantity": 1, "unit_price": 5.0}],
            shipping=[],
            total=5.0,
        )
        self.patch(InMemoryPullAdapter, "orders", [self.payload])
        self.patch(InMemoryPullAdapter, "after_fetch", None)

    def receive_webhook(self, env):
        backend = env["distribution.backend"].browse(self.backend_id)
        exchange, _created = env["distribution.exchange"]._insert_inbound(
            backend, "order", "order", "webhook-pull-1", "PULL-1",
            json.dumps(self.payload).encode(), "application/json", {},
        )  # fmt: skip
        return exchange

    @staticmethod
    def run_job(env, exchange_id):
        """One run of the job: commit when it ends, roll back when it raises."""
        try:
            outcome = env["distribution.exchange"].browse(exchange_id).process()
        except RetryableJobError:
            env.cr.rollback()
            return "retry"
        env.cr.commit()
        return outcome

    def pulled_exchange_ids(self):
        with own_transaction(self.registry) as env:
            return (
                env["distribution.exchange"]
                .search(
                    [
                        ("backend_id", "=", self.backend_id),
                        ("external_event_id", "like", "pull:%"),
                    ]
                )
                .ids
            )

    def assertOneOrder(self):
        with own_transaction(self.registry) as env:
            orders = env["sale.order"].search(
                [("distribution_backend_id", "=", self.backend_id)]
            )
            self.assertEqual(len(orders), 1)
            bindings = env["distribution.binding"].search(
                [
                    ("backend_id", "=", self.backend_id),
                    ("res_model", "=", "sale.order"),
                ]
            )
            self.assertEqual(bindings.res_id, orders.id)
            exchanges = env["distribution.exchange"].search(
                [("backend_id", "=", self.backend_id), ("direction", "=", "in")]
            )
            self.assertEqual(set(exchanges.mapped("state")), {"done"})
            self.assertEqual(set(exchanges.mapped("res_id")), {orders.id})

    def test_webhook_committed_while_the_pull_holds_the_page(self):
        with own_transaction(self.registry) as env:
            webhook_id = self.receive_webhook(env).id
        fetched, processed = threading.Event(), threading.Event()
        results = {}

        def webhook_worker():
            fetched.wait(WORKER_TIMEOUT)
            with own_transaction(self.registry) as env:
                results["webhook"] = self.run_job(env, webhook_id)
            processed.set()

        def after_fetch():
            fetched.set()
            processed.wait(WORKER_TIMEOUT)

        self.patch(InMemoryPullAdapter, "after_fetch", after_fetch)
        thread = threading.Thread(target=webhook_worker)
        thread.start()
        try:
            with own_transaction(self.registry) as env:
                # the pull's snapshot predates the webhook's commit
                results["pull"] = (
                    env["distribution.backend"].browse(self.backend_id)._pull_orders()
                )
        finally:
            thread.join(WORKER_TIMEOUT)
        self.assertTrue(results["webhook"].startswith("done"), results)
        self.assertEqual(results["pull"], "1 orders pulled, 1 new, 0 already imported")
        (pulled_id,) = self.pulled_exchange_ids()
        with own_transaction(self.registry) as env:
            self.assertTrue(self.run_job(env, pulled_id).startswith("done"))
        self.assertOneOrder()

    def test_pulled_and_webhook_jobs_run_at_the_same_time(self):
        with own_transaction(self.registry) as env:
            webhook_id = self.receive_webhook(env).id
            env["distribution.backend"].browse(self.backend_id)._pull_orders()
        (pulled_id,) = self.pulled_exchange_ids()
        create = OrderImport._create

        def slow_create(flow):
            order = create(flow)
            threading.Event().wait(1)
            return order

        self.patch(OrderImport, "_create", slow_create)
        barrier = threading.Barrier(2, timeout=WORKER_TIMEOUT)
        results = {}

        def worker(name, exchange_id):
            try:
                with own_transaction(self.registry) as env:
                    env["distribution.backend"].browse(self.backend_id).exists()
                    barrier.wait()
                    results[name] = self.run_job(env, exchange_id)
            except Exception as err:  # reported by the test
                results[name] = err

        threads = [
            threading.Thread(target=worker, args=("webhook", webhook_id)),
            threading.Thread(target=worker, args=("pull", pulled_id)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WORKER_TIMEOUT)
            self.assertFalse(thread.is_alive(), "a worker is stuck")
        outcomes = sorted(str(result).split(":")[0] for result in results.values())
        self.assertEqual(outcomes, ["done", "retry"], results)
        # the runner runs the postponed job again, in a new transaction
        for name, exchange_id in (("webhook", webhook_id), ("pull", pulled_id)):
            if results[name] == "retry":
                with own_transaction(self.registry) as env:
                    self.assertTrue(self.run_job(env, exchange_id).startswith("done"))
        self.assertOneOrder()

    def test_a_second_pull_skips_while_the_first_holds_the_watermark(self):
        with own_transaction(self.registry) as env:
            env["distribution.backend"].browse(self.backend_id)._pull_orders()
        with own_transaction(self.registry) as first:
            watermark = first["distribution.watermark"]._lock(
                first["distribution.backend"].browse(self.backend_id), "order_pull"
            )
            self.assertTrue(watermark)
            with own_transaction(self.registry) as second:
                result = (
                    second["distribution.backend"]
                    .browse(self.backend_id)
                    ._pull_orders()
                )
            self.assertEqual(result, "skipped: another pull of this backend is running")

    def test_cron_commits_its_progress_backend_by_backend(self):
        """Run as the cron worker runs it: each backend's pull is committed
        with the cron's progress, and nothing is left to do."""
        with own_transaction(self.registry) as env:
            cron = env.ref("distribution_sync.ir_cron_distribution_pull_orders")
            cron, progress = cron._add_progress()
            self.addCleanup(self.delete_progress, progress.id)
            env.cr.commit()
            backends = cron.env["distribution.backend"].with_context(cron_id=cron.id)
            results = backends._cron_pull_orders()
            self.assertEqual(
                results[self.backend_id], "1 orders pulled, 1 new, 0 already imported"
            )
            self.assertEqual((progress.done, progress.remaining), (len(results), 0))
            # committed by the progress report already: another transaction
            # sees the pulled order before this one ends
            self.assertEqual(len(self.pulled_exchange_ids()), 1)

    def delete_progress(self, progress_id):
        with own_transaction(self.registry) as env:
            env["ir.cron.progress"].browse(progress_id).unlink()
