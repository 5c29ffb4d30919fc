"""A channel that sells while Odoo publishes, over random schedules.

The channel is a real HTTP server on 127.0.0.1 speaking the generic JSON
stock protocol with compare-and-set. It sells units on its own, also
between Odoo's reading of a level and its call (the sales scheduled "during"
an export happen when the call arrives, before it is applied). Each sale
reaches Odoo as a channel order after a random delay (an inbound exchange
whose lines become backlog lines), and is applied later (the exchange done,
the units leave the stock). Odoo meanwhile receives and ships stock of its
own. Invariants: the channel never offers more than Odoo can still ship,
and once everything is received and applied the channel shows the engine's
number.
"""

import json
import threading
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.http_client import BackendHttpClient
from odoo.addons.distribution_connector.tests.fake_server import FakeServer
from odoo.addons.queue_job.tests.common import trap_jobs

from .common import StockPublishMixin

SKUS = ("SIM-A", "SIM-B")

steps = st.one_of(
    st.tuples(st.just("sell"), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("sell_during_export"), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("odoo_out"), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("odoo_in"), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("tick"), st.just(0), st.just(0)),
    st.tuples(st.just("publish"), st.just(0), st.just(0)),
)


class FakeChannel:
    """The channel's stock: compare-and-set over HTTP, and its own sales."""

    def __init__(self):
        self.lock = threading.Lock()
        self.stock = {}
        self.orders = []  # [sku, quantity, ticks until Odoo receives it]
        self.during_export = []  # sales to make when the next call arrives

    def sell(self, sku, quantity, delay):
        with self.lock:
            quantity = min(quantity, self.stock.get(sku, 0))
            if quantity > 0:
                self.stock[sku] -= quantity
                self.orders.append([sku, quantity, delay])
            return quantity

    def answer(self, recorded):
        for sku, quantity, delay in self.during_export:
            self.sell(sku, quantity, delay)
        self.during_export = []
        results = []
        with self.lock:
            for item in recorded.json()["items"]:
                sku, shown = item["sku"], self.stock.get(item["sku"])
                compare = item["compare_quantity"]
                if compare is not None and shown is not None and shown != compare:
                    results.append(
                        {"sku": sku, "status": "mismatch", "actual_quantity": shown}
                    )
                    continue
                self.stock[sku] = item["quantity"]
                results.append(
                    {"sku": sku, "status": "ok", "actual_quantity": item["quantity"]}
                )
        return 200, {"results": results}, {}


@tagged("-at_install", "post_install")
class TestChannelSimulation(StockPublishMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry_enter_test_mode_cls()
        cls.setUpStockPublish()
        cls.server = FakeServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.products = [cls.make_product(sku) for sku in SKUS]
        cls.channel, cls.rule = cls.make_channel("Simulated channel")
        cls.channel.write(
            {
                "api_base_url": cls.server.url + "/api",
                "allow_private_network": True,
                "api_secret": "simulation-token-0123456789",
                "rate_limit_per_second": 0,
            }
        )

    def setUp(self):
        super().setUp()
        self.patch(BackendHttpClient, "backoff", 0)

    # -- Odoo's side ----------------------------------------------------------

    def publish(self):
        self.recompute(product_ids=[p.id for p in self.products])
        with trap_jobs() as trap:
            self.Level._enqueue_exports()
            for job in list(trap.enqueued_jobs):
                if job.method_name == "export_batch":
                    job.perform()

    def receive(self, sku, quantity):
        """The channel's order reaches Odoo's inbox: a backlog line."""
        order_id = uuid.uuid4().hex
        exchange = self.env["distribution.exchange"].create(
            {
                "backend_id": self.channel.id,
                "direction": "in",
                "topic": "order",
                "kind": "order",
                "external_event_id": order_id,
                "external_ref": order_id,
                "content_type": "application/json",
                "raw_body": json.dumps(
                    {
                        "external_id": order_id,
                        "status": "confirmed",
                        "lines": [{"sku": sku, "quantity": quantity}],
                    }
                ),
                "state": "received",
            }
        )
        exchange._store_backlog_lines()
        return exchange

    def apply(self, exchange, product, quantity):
        """Odoo applied the order and shipped it: the exchange is done and
        the units left the stock."""
        exchange.write({"state": "done"})
        self.put(product, -quantity)

    def on_hand(self, product):
        self.env.flush_all()
        product.invalidate_recordset(["qty_available"])
        return product.with_context(warehouse_id=self.wh1.id).qty_available

    # -- the simulation -----------------------------------------------------------

    def simulate(self, initial, schedule, delays):
        self.channel_stock = channel = FakeChannel()
        self.server.scripts.clear()
        self.server.route("POST", "/api/stock", channel.answer)
        for product, qty in zip(self.products, initial, strict=True):
            if qty:
                self.put(product, qty)
        self.received = []  # (exchange, product, quantity) not applied yet
        delays = iter(delays)
        self.publish()
        for action, index, quantity in schedule:
            self.step(action, index, quantity, next(delays, 1))
            self.check()
        # quiet: every order reaches Odoo and is applied, then a last publish
        channel.during_export = []
        while channel.orders or self.received:
            self.tick()
        self.publish()
        self.check()
        for sku, product in zip(SKUS, self.products, strict=True):
            level = self.level(self.channel, product)
            self.assertEqual(level.computed_qty, self.on_hand(product))
            self.assertEqual(
                channel.stock.get(sku),
                level.computed_qty,
                f"{sku}: the channel did not converge to the engine's number",
            )

    def step(self, action, index, quantity, delay):
        channel = self.channel_stock
        sku, product = SKUS[index], self.products[index]
        if action == "sell":
            channel.sell(sku, quantity, delay)
        elif action == "sell_during_export":
            channel.during_export.append((sku, quantity, delay))
        elif action == "odoo_out":
            # Odoo ships units of its own, none the channel offers (a unit
            # both sell before either hears of the other is a race no
            # publishing avoids)
            spare = self.on_hand(product) - self.unapplied(sku)
            quantity = min(quantity, spare - channel.stock.get(sku, 0))
            if quantity > 0:
                self.put(product, -quantity)
        elif action == "odoo_in":
            self.put(product, quantity)
        elif action == "tick":
            self.tick()
        else:
            self.publish()

    def unapplied(self, sku):
        """Units the channel sold that Odoo has not applied yet."""
        in_flight = sum(q for s, q, _d in self.channel_stock.orders if s == sku)
        waiting = sum(q for _e, p, q in self.received if p.default_code == sku)
        return in_flight + waiting

    def check(self):
        for sku, product in zip(SKUS, self.products, strict=True):
            shippable = self.on_hand(product) - self.unapplied(sku)
            self.assertLessEqual(
                self.channel_stock.stock.get(sku, 0),
                max(shippable, 0),
                f"{sku}: the channel offers more than Odoo can ship",
            )

    def tick(self):
        """Orders whose delay ran out reach Odoo; the oldest one received is
        applied."""
        by_sku = dict(zip(SKUS, self.products, strict=True))
        for order in list(self.channel_stock.orders):
            order[2] -= 1
            if order[2] < 0:
                self.channel_stock.orders.remove(order)
                sku, quantity = order[0], order[1]
                exchange = self.receive(sku, quantity)
                self.received.append((exchange, by_sku[sku], quantity))
        if self.received:
            self.apply(*self.received.pop(0))

    @settings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        initial=st.tuples(st.integers(0, 8), st.integers(0, 8)),
        schedule=st.lists(steps, max_size=10),
        delays=st.lists(st.integers(0, 3), max_size=10),
    )
    def test_channel_never_oversells_and_converges(self, initial, schedule, delays):
        # each schedule in a savepoint rolled back, so that the next starts
        # from the same data
        with self.assertRaises(Rollback):
            with self.env.cr.savepoint():
                self.simulate(initial, schedule, delays)
                raise Rollback
        self.env.invalidate_all()


class Rollback(Exception):
    """Ends a schedule: its savepoint is rolled back."""
