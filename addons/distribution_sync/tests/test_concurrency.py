"""Races between real, committed transactions.

Each worker runs in its own thread on a connection of its own
(``own_transaction``), as two HTTP workers or two job runners would. Test
cursors would not do: they all wrap the test's single transaction, which
serializes the workers instead of racing them. Everything committed here is
deleted again in a cleanup.
"""

import json
import threading
import time

from psycopg2 import OperationalError
from psycopg2.errors import SerializationFailure

from odoo import Command
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.exception import RetryableJobError

from ..flows.order_import import STOCK_LOCK_RETRY, OrderImport
from ..flows.picking_confirmation import PickingConfirmation
from .common import BASE_ORDER, CommittedDataMixin, own_transaction

WORKER_TIMEOUT = 60


def run_job_body(env, exchange_id):
    """One run of an exchange's job, as the runner ends it: committed when it
    returns, rolled back and postponed ("retry") when it raises
    ``RetryableJobError`` or a concurrency error PostgreSQL asks to replay."""
    try:
        outcome = env["distribution.exchange"].browse(exchange_id).process()
    except RetryableJobError:
        env.cr.rollback()
        return "retry"
    except OperationalError as err:
        if err.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY:
            raise
        env.cr.rollback()
        return "retry"
    env.cr.commit()
    return outcome


def purge_committed_order(registry, order_id):
    """Delete, in a committed transaction, a committed sales order with its
    customer, its transfers, their moves and the quants of its products (done
    moves cannot be deleted through the ORM)."""
    with own_transaction(registry) as env:
        order = env["sale.order"].browse(order_id)
        product_ids = order.order_line.product_id.ids
        partner_id = order.partner_id.id
        env.cr.execute(
            "DELETE FROM stock_move_line WHERE product_id = ANY(%s)", [product_ids]
        )
        env.cr.execute(
            "DELETE FROM stock_move WHERE product_id = ANY(%s) RETURNING picking_id",
            [product_ids],
        )
        picking_ids = list({row[0] for row in env.cr.fetchall() if row[0]})
        env.cr.execute("DELETE FROM stock_picking WHERE id = ANY(%s)", [picking_ids])
        env.cr.execute(
            "DELETE FROM stock_quant WHERE product_id = ANY(%s)", [product_ids]
        )
        env.cr.execute("DELETE FROM sale_order WHERE id = %s", [order_id])
        env.cr.execute("DELETE FROM res_partner WHERE id = %s", [partner_id])


@tagged("-at_install", "post_install")
class TestConcurrency(CommittedDataMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpCommittedData()

    def setUp(self):
        super().setUp()
        self.backend_id, self.currency = self.commit_backend("Race channel", "RACE-MUG")

    def payload(self):
        return dict(
            BASE_ORDER,
            external_id="RACE-1",
            currency=self.currency,
            customer={"external_id": "RACE-CUST", "name": "Racing Customer"},
            lines=[{"sku": "RACE-MUG", "quantity": 1, "unit_price": 5.0}],
            shipping=[],
            total=5.0,
        )

    def run_workers(self, work, *args):
        """Run ``work(env, arg)`` for each arg at the same time, each in its
        own thread and transaction; return their results (or errors)."""
        barrier = threading.Barrier(len(args), timeout=WORKER_TIMEOUT)
        results = [None] * len(args)

        def worker(index, arg):
            try:
                with own_transaction(self.registry) as env:
                    # a first read takes the transaction's snapshot, as the job
                    # runner's bookkeeping does before the job body runs
                    env["distribution.backend"].browse(self.backend_id).exists()
                    barrier.wait()
                    results[index] = work(env, arg)
            except Exception as err:  # reported by the test
                results[index] = err

        threads = [
            threading.Thread(target=worker, args=(index, arg))
            for index, arg in enumerate(args)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WORKER_TIMEOUT)
            self.assertFalse(thread.is_alive(), "a worker is stuck")
        return results

    def committed(self):
        """An environment reading what the workers committed."""
        return self.enterContext(own_transaction(self.registry))

    def test_same_event_delivered_twice_at_once(self):
        body = json.dumps(self.payload()).encode()

        def deliver(env, _arg):
            """What the webhook does, retried on a serialization failure as
            Odoo's HTTP layer retries a request (``odoo.service.model.retrying``,
            which cannot run here: after a failure it looks the registry up
            again, under the lock the test server holds)."""
            backend = env["distribution.backend"].browse(self.backend_id)
            for attempt in range(1, 6):
                try:
                    exchange, created = env["distribution.exchange"]._insert_inbound(
                        backend, "order", "order", "race-evt", "RACE-1", body,
                        "application/json", {},
                    )  # fmt: skip
                    env.cr.commit()
                    return exchange.id, created, attempt
                except SerializationFailure:
                    env.cr.rollback()
            raise AssertionError("no attempt succeeded")

        results = self.run_workers(deliver, 1, 2)
        for result in results:
            self.assertIsInstance(result, tuple, result)
        self.assertEqual(sorted(created for _id, created, _n in results), [False, True])
        self.assertEqual(results[0][0], results[1][0])
        # REPEATABLE READ: the loser's insert cannot wait and then skip a row
        # its snapshot does not see; it fails, and the retry finds the row
        self.assertEqual(
            sorted(attempts for _id, _created, attempts in results), [1, 2]
        )
        env = self.committed()
        self.assertEqual(
            env["distribution.exchange"].search_count(
                [("backend_id", "=", self.backend_id)]
            ),
            1,
        )

    def test_two_events_of_one_order_processed_at_once(self):
        with own_transaction(self.registry) as env:
            backend = env["distribution.backend"].browse(self.backend_id)
            exchange_ids = []
            for event_id in ("race-evt-1", "race-evt-2"):
                exchange, _created = env["distribution.exchange"]._insert_inbound(
                    backend, "order", "order", event_id, "RACE-1",
                    json.dumps(self.payload()).encode(), "application/json", {},
                )  # fmt: skip
                exchange_ids.append(exchange.id)

        # the worker that creates the order holds it a while before committing
        create = OrderImport._create

        def slow_create(flow):
            order = create(flow)
            time.sleep(1)
            return order

        self.patch(OrderImport, "_create", slow_create)

        def attempt(env, exchange_id):
            """One run of the job: commit when it ends, roll back when it raises."""
            try:
                outcome = env["distribution.exchange"].browse(exchange_id).process()
            except RetryableJobError:
                env.cr.rollback()
                return "retry"
            env.cr.commit()
            return outcome

        results = self.run_workers(attempt, *exchange_ids)
        for result in results:
            self.assertIsInstance(result, str, f"a job failed: {result!r}")
        # both read before either committed: one imports, the other one is
        # postponed instead of creating the order a second time
        self.assertEqual(
            sorted(result.split(":")[0] for result in results), ["done", "retry"]
        )
        # the runner runs the postponed job again later, in a new transaction
        for exchange_id, result in zip(exchange_ids, results, strict=True):
            if result == "retry":
                with own_transaction(self.registry) as env:
                    self.assertTrue(attempt(env, exchange_id).startswith("done"))

        env = self.committed()
        orders = env["sale.order"].search(
            [("distribution_backend_id", "=", self.backend_id)]
        )
        self.assertEqual(len(orders), 1)
        bindings = env["distribution.binding"].search(
            [("backend_id", "=", self.backend_id), ("res_model", "=", "sale.order")]
        )
        self.assertEqual(len(bindings), 1)
        self.assertEqual(bindings.res_id, orders.id)
        exchanges = env["distribution.exchange"].browse(exchange_ids)
        self.assertEqual(exchanges.mapped("state"), ["done", "done"])
        self.assertEqual(set(exchanges.mapped("res_id")), {orders.id})
        self.assertFalse(exchanges.exception_ids)

    def test_order_whose_stock_another_import_reserves_runs_again(self):
        """Another import holds the quants of the order's product (it is
        confirming an order for it): nothing is created, the job asks to run
        again shortly without counting an attempt, and then goes through."""
        with own_transaction(self.registry) as env:
            backend = env["distribution.backend"].browse(self.backend_id)
            backend.auto_confirm = True
            product = env["product.product"].search([("default_code", "=", "RACE-MUG")])
            product.is_storable = True
            warehouse = env["stock.warehouse"].search(
                [("company_id", "=", backend.company_id.id)], limit=1
            )
            env["stock.quant"]._update_available_quantity(
                product, warehouse.lot_stock_id, 10
            )
            exchange, _created = env["distribution.exchange"]._insert_inbound(
                backend, "order", "order", "race-stock-1", "RACE-1",
                json.dumps(self.payload()).encode(), "application/json", {},
            )  # fmt: skip
            exchange_id, product_id = exchange.id, product.id
        with own_transaction(self.registry) as other:
            # the other import's reservation, not committed yet
            other.cr.execute(
                "SELECT id FROM stock_quant WHERE product_id = %s FOR NO KEY UPDATE",
                [product_id],
            )
            with own_transaction(self.registry) as env:
                with self.assertRaises(RetryableJobError) as caught:
                    env["distribution.exchange"].browse(exchange_id).process()
                env.cr.rollback()
        self.assertTrue(caught.exception.ignore_retry)
        self.assertEqual(caught.exception.seconds, STOCK_LOCK_RETRY)
        env = self.committed()
        orders = env["sale.order"]
        on_backend = [("distribution_backend_id", "=", self.backend_id)]
        self.assertFalse(orders.search(on_backend))
        env.cr.rollback()  # a new snapshot for what the second run commits
        with own_transaction(self.registry) as worker:
            self.assertTrue(run_job_body(worker, exchange_id).startswith("done"))
        order = orders.search(on_backend)
        self.addCleanup(purge_committed_order, self.registry, order.id)
        self.assertEqual(len(order), 1)
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.order_line.move_ids.state, "assigned")

    # -- one shipment delivered twice, applied by two workers ------------------

    def same_shipment_twice(self):
        """A committed order of 2 race mugs (10 in stock) and two exchanges
        carrying the same shipment of 1 without a shipment id, under two
        delivery ids: (exchange ids, order id, product id)."""
        with own_transaction(self.registry) as env:
            product = env["product.product"].search([("default_code", "=", "RACE-MUG")])
            product.is_storable = True
            backend = env["distribution.backend"].browse(self.backend_id)
            warehouse = env["stock.warehouse"].search(
                [("company_id", "=", backend.company_id.id)], limit=1
            )
            env["stock.quant"]._update_available_quantity(
                product, warehouse.lot_stock_id, 10
            )
            order = env["sale.order"].create(
                {
                    "partner_id": env["res.partner"].create({"name": "Race buyer"}).id,
                    "company_id": backend.company_id.id,
                    "warehouse_id": warehouse.id,
                    "order_line": [
                        Command.create({"product_id": product.id, "product_uom_qty": 2})
                    ],
                }
            )
            order.action_confirm()
            shipment = {
                "order_external_id": order.name,
                "lines": [{"sku": "RACE-MUG", "quantity": 1}],
                "tracking_number": "RACE-TRACK",
            }
            exchange_ids = [
                env["distribution.exchange"]
                ._insert_inbound(
                    backend, "shipment", "shipment", event_id, None,
                    json.dumps(shipment).encode(), "application/json", {},
                )[0]
                .id
                for event_id in ("race-delivery-1", "race-delivery-2")
            ]  # fmt: skip
            ids = exchange_ids, order.id, product.id
        self.addCleanup(purge_committed_order, self.registry, ids[1])
        return ids

    def assert_shipped_once(self, exchange_ids, order_id, product_id, results):
        for result in results:
            self.assertIsInstance(result, str, f"a job failed: {result!r}")
        self.assertEqual(
            sorted(result.split(":")[0] for result in results), ["done", "retry"]
        )
        # the runner runs the postponed job again later, in a new transaction
        for exchange_id, result in zip(exchange_ids, results, strict=True):
            if result == "retry":
                with own_transaction(self.registry) as env:
                    self.assertTrue(run_job_body(env, exchange_id).startswith("done"))
        env = self.committed()
        order = env["sale.order"].browse(order_id)
        deliveries = order.picking_ids.sorted("id")
        self.assertEqual(deliveries.mapped("state"), ["done", "assigned"])
        self.assertEqual(deliveries.move_ids.mapped("quantity"), [1, 1])
        product = env["product.product"].browse(product_id)
        self.assertEqual(product.qty_available, 9, "shipped once")
        exchanges = env["distribution.exchange"].browse(exchange_ids)
        self.assertEqual(exchanges.mapped("state"), ["done", "done"])
        applied = exchanges.filtered(lambda e: not e.is_duplicate)
        duplicate = exchanges - applied
        self.assertEqual(len(duplicate), 1)
        self.assertEqual(duplicate.duplicate_of_id, applied)
        self.assertFalse(exchanges.exception_ids)
        bindings = env["distribution.binding"].search(
            [
                ("backend_id", "=", self.backend_id),
                ("external_id", "=", applied.idempotency_key),
            ]
        )
        self.assertEqual(bindings.res_id, deliveries[0].id)

    def test_same_shipment_applied_by_two_workers_at_once(self):
        exchange_ids, order_id, product_id = self.same_shipment_twice()

        # the worker that validates holds its transaction a while
        validate = PickingConfirmation._validate

        def slow_validate(flow, picking):
            validate(flow, picking)
            time.sleep(1)

        self.patch(PickingConfirmation, "_validate", slow_validate)
        results = self.run_workers(run_job_body, *exchange_ids)
        self.assert_shipped_once(exchange_ids, order_id, product_id, results)

    def test_same_shipment_applied_after_a_worker_read_before_the_first_committed(
        self,
    ):
        """The second worker's snapshot was taken before the first one
        committed: it cannot see the shipment applied, the database stops it."""
        exchange_ids, order_id, product_id = self.same_shipment_twice()
        first_committed = threading.Event()

        def apply(env, exchange_id):
            if exchange_id == exchange_ids[0]:
                try:
                    return run_job_body(env, exchange_id)
                finally:
                    first_committed.set()
            self.assertTrue(first_committed.wait(WORKER_TIMEOUT))
            return run_job_body(env, exchange_id)

        results = self.run_workers(apply, *exchange_ids)
        self.assertTrue(results[0].startswith("done"), results)
        self.assertEqual(results[1], "retry")
        self.assert_shipped_once(exchange_ids, order_id, product_id, results)
