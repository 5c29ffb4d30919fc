from datetime import timedelta

from odoo.tests.common import TransactionCase, tagged

from .dashboard_common import DashboardDataMixin, percentile_cont


@tagged("-at_install", "post_install")
class TestDashboard(DashboardDataMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDashboard()
        cls.other = cls.make_backend("Other channel")

    def flow(self, kind, direction="in", backend=None):
        return self.env["distribution.flow.health"].search(
            [
                ("backend_id", "=", (backend or self.backend).id),
                ("direction", "=", direction),
                ("kind", "=", kind),
            ]
        )

    def health(self, backend=None):
        backend = backend or self.backend
        backend.invalidate_recordset()
        return backend

    # -- latency --

    def test_latency_percentiles(self):
        for seconds in range(1, 22):  # 1..21 s: p50 = 11, p95 = 20
            self.make_exchange(latency=seconds, hours_ago=seconds / 10)
        # outside the window, outbound, not done, or another backend: left out
        self.make_exchange(latency=5000, hours_ago=24 * 8)
        self.make_exchange(latency=7000, direction="out", kind="fulfillment")
        self.make_exchange(state="error", latency=9000)
        self.make_exchange(latency=8000, backend=self.other)
        backend = self.health()
        self.assertAlmostEqual(backend.health_latency_p50, 11.0, places=3)
        self.assertAlmostEqual(backend.health_latency_p95, 20.0, places=3)
        order = self.flow("order")
        self.assertEqual(order.exchange_count, 22)
        self.assertEqual(order.done_count, 21)
        self.assertAlmostEqual(order.latency_p50, 11.0, places=3)
        self.assertAlmostEqual(order.latency_p95, 20.0, places=3)
        outbound = self.flow("fulfillment", direction="out")
        self.assertAlmostEqual(outbound.latency_p95, 7000.0, places=3)
        self.assertAlmostEqual(self.flow("order", backend=self.other).latency_p50, 8000)

    def test_latency_percentiles_interpolate(self):
        latencies = [0.4, 0.9, 1.3, 2.0, 2.2, 3.7, 8.1, 15.0, 42.5]
        for index, seconds in enumerate(latencies):
            self.make_exchange(latency=seconds, hours_ago=index + 1)
        self.make_exchange(
            latency=4.0, kind="order_cancellation"
        )  # another flow of the same backend
        order = self.flow("order")
        self.assertAlmostEqual(order.latency_p50, percentile_cont(latencies, 0.5))
        self.assertAlmostEqual(order.latency_p95, percentile_cont(latencies, 0.95))
        self.assertAlmostEqual(order.latency_p95, 31.5, places=6)
        self.assertAlmostEqual(self.flow("order_cancellation").latency_p50, 4.0)
        backend = self.health()
        everything = [*latencies, 4.0]
        # the backend's figures are shown to a tenth of a second
        self.assertAlmostEqual(
            backend.health_latency_p95, percentile_cont(everything, 0.95), delta=0.05
        )

    # -- backlog --

    def test_backlog_pending_exchanges(self):
        for _index in range(3):
            self.make_exchange(state="received")
        processing = self.make_exchange(state="processing")
        self.make_exchange(state="done", latency=1)
        self.make_exchange(state="error", latency=1)
        # pending for weeks still counts: it is the backlog
        old = self.make_exchange(state="received", hours_ago=24 * 30)
        # the HTTP client's call records are never processed nor counted
        self.make_call(state="error")
        self.make_exchange(state="received", backend=self.other)
        backend = self.health()
        self.assertEqual(backend.health_pending_count, 5)
        self.assertEqual(self.health(self.other).health_pending_count, 1)
        action = backend.action_health_pending()
        pending = self.Exchange.search(action["domain"])
        self.assertEqual(len(pending), 5)
        self.assertIn(processing, pending)
        self.assertIn(old, pending)
        self.assertEqual(self.flow("order").pending_count, 4)

    def test_backlog_queue_jobs_per_channel(self):
        # only this test's jobs (rolled back with it)
        self.env.cr.execute("DELETE FROM queue_job")
        exchanges = [self.make_exchange(state="received") for _index in range(5)]
        for exchange in exchanges[:4]:
            exchange.with_delay(channel="root.distribution.inbound").process()
        exchanges[4].with_delay(channel="root.distribution.stock").process()
        jobs = self.env["queue.job"].search(
            [("channel", "like", "root.distribution.%")], order="id"
        )
        self.assertEqual(len(jobs), 5)
        self.env.cr.execute(
            "UPDATE queue_job SET state = %s WHERE id = %s", ["started", jobs[0].id]
        )
        self.env.cr.execute(
            "UPDATE queue_job SET state = %s WHERE id = %s", ["failed", jobs[1].id]
        )
        self.env.cr.execute(
            "UPDATE queue_job SET state = %s WHERE id = %s", ["done", jobs[2].id]
        )
        jobs.invalidate_recordset()
        backlog = {
            line.channel: line
            for line in self.env["distribution.queue.backlog"].search([])
        }
        inbound = backlog["root.distribution.inbound"]
        self.assertEqual(inbound.backlog_count, 2)  # one running, one waiting
        self.assertEqual(inbound.started_count, 1)
        self.assertEqual(inbound.waiting_count, 1)
        self.assertEqual(inbound.failed_count, 1)
        self.assertEqual(backlog["root.distribution.stock"].backlog_count, 1)
        self.assertEqual(backlog["root.distribution.stock"].waiting_count, 1)
        self.assertEqual(
            set(self.health().health_queue_backlog_ids.mapped("channel")),
            set(backlog),
        )

    # -- failures and duplicates --

    def test_failure_rate(self):
        for _index in range(6):
            self.make_exchange(state="done", latency=1)
        for _index in range(2):
            self.make_exchange(state="error", latency=1)
        for _index in range(3):
            self.make_exchange(state="done", latency=1, kind="order_cancellation")
        self.make_exchange(state="error", latency=1, kind="order_cancellation")
        # neither success nor failure: not in the rate
        self.make_exchange(state="ignored", latency=1)
        self.make_exchange(state="received")
        # outside the window
        self.make_exchange(state="error", latency=1, hours_ago=24 * 10)
        backend = self.health()
        self.assertAlmostEqual(backend.health_failure_rate, 100 * 3 / 12)
        self.assertEqual(backend.health_error_count, 3)
        self.assertEqual(backend.health_exchange_count, 14)
        self.assertAlmostEqual(self.flow("order").failure_rate, 25.0)
        self.assertAlmostEqual(self.flow("order_cancellation").failure_rate, 25.0)
        self.assertEqual(self.flow("order").error_count, 2)
        errors = self.Exchange.search(backend.action_health_errors()["domain"])
        self.assertEqual(len(errors), 3)
        # the analysis averages 100 per failure and 0 per success
        groups = self.env["distribution.exchange.report"].read_group(
            [
                ("backend_id", "=", self.backend.id),
                ("received_at", ">=", self.now - timedelta(days=7)),
            ],
            ["failure_rate:avg", "error_count:sum"],
            ["kind"],
        )
        by_kind = {group["kind"]: group for group in groups}
        self.assertAlmostEqual(by_kind["order"]["failure_rate"], 25.0)
        self.assertEqual(by_kind["order"]["error_count"], 2)

    def test_no_activity_reads_zero(self):
        backend = self.health(self.make_backend("Quiet channel"))
        self.assertEqual(backend.health_pending_count, 0)
        self.assertEqual(backend.health_failure_rate, 0.0)
        self.assertEqual(backend.health_latency_p50, 0.0)
        self.assertFalse(backend.health_last_success_at)
        self.assertFalse(backend.health_flow_ids)

    def test_duplicate_count(self):
        def insert(event_id):
            return self.Exchange._insert_inbound(
                self.backend,
                "order",
                "order",
                event_id,
                "R",
                b"{}",
                "application/json",
                {},
            )

        first, _created = insert("evt-a")
        for _again in range(3):
            insert("evt-a")
        second, _created = insert("evt-b")
        insert("evt-b")
        insert("evt-c")
        self.make_exchange(duplicate_count=5, hours_ago=24 * 9, latency=1)
        self.assertEqual((first.duplicate_count, second.duplicate_count), (3, 1))
        backend = self.health()
        self.assertEqual(backend.health_duplicate_count, 4)
        self.assertEqual(self.flow("order").duplicate_count, 4)
        with_duplicates = self.Exchange.search(
            backend.action_health_duplicates()["domain"]
        )
        self.assertEqual(with_duplicates, first | second)
        # the analysis has every day, the old exchange too
        total = self.env["distribution.exchange.report"].read_group(
            [("backend_id", "=", self.backend.id)], ["duplicate_count:sum"], []
        )[0]["duplicate_count"]
        self.assertEqual(total, 9)

    # -- exceptions --

    def test_exceptions_by_age(self):
        exchange = self.make_exchange(state="error", latency=1)
        for minutes in (5, 50):  # < 1 hour
            self.make_exception(exchange, "unknown_sku", minutes)
        self.make_exception(exchange, "unknown_sku", 3 * 60)  # 1 hour - 1 day
        self.make_exception(exchange, "unknown_sku", 3 * 24 * 60)  # 1 - 7 days
        self.make_exception(exchange, "currency_mismatch", 10 * 24 * 60)  # older
        self.make_exception(exchange, "currency_mismatch", 23 * 60)
        # settled ones are not waiting for anybody
        self.make_exception(exchange, "unknown_sku", 5, state="resolved")
        self.make_exception(exchange, "unknown_sku", 5, state="ignored")
        other_exchange = self.make_exchange(state="error", backend=self.other)
        self.make_exception(other_exchange, "unknown_sku", 5)
        lines = {
            line.type: line
            for line in self.env["distribution.exception.age"].search(
                [("backend_id", "=", self.backend.id)]
            )
        }
        self.assertEqual(set(lines), {"unknown_sku", "currency_mismatch"})
        sku = lines["unknown_sku"]
        self.assertEqual(
            (sku.open_count, sku.age_1h, sku.age_1d, sku.age_7d, sku.age_older),
            (4, 2, 1, 1, 0),
        )
        currency = lines["currency_mismatch"]
        self.assertEqual(
            (
                currency.open_count,
                currency.age_1h,
                currency.age_1d,
                currency.age_7d,
                currency.age_older,
            ),
            (2, 0, 1, 0, 1),
        )
        backend = self.health()
        self.assertEqual(
            (
                backend.health_exception_1h,
                backend.health_exception_1d,
                backend.health_exception_7d,
                backend.health_exception_older,
            ),
            (2, 2, 1, 1),
        )
        self.assertEqual(backend.health_exception_age_ids, sku | currency)
        self.assertEqual(self.health(self.other).health_exception_1h, 1)

    # -- last successful sync --

    def test_last_successful_sync(self):
        self.make_exchange(latency=10, hours_ago=5)
        latest = self.make_exchange(
            latency=30, hours_ago=2, direction="out", kind="fulfillment"
        )
        # later, but not successes
        self.make_exchange(state="error", latency=60, hours_ago=1)
        self.make_exchange(state="received", hours_ago=0.5)
        self.make_call(hours_ago=0.1)
        last_inbound = self.make_exchange(state="received", hours_ago=0.25)
        backend = self.health()
        self.assertEqual(backend.health_last_success_at, latest.processed_at)
        self.assertEqual(backend.health_last_inbound_at, last_inbound.received_at)
        self.assertEqual(
            max(self.flow("fulfillment", direction="out").mapped("last_success_at")),
            latest.processed_at,
        )
        self.assertFalse(self.health(self.other).health_last_success_at)

    def test_analysis_rows(self):
        done = self.make_exchange(latency=12.5)
        error = self.make_exchange(state="error", latency=3)
        pending = self.make_exchange(state="received")
        self.make_call()
        rows = self.env["distribution.exchange.report"].search(
            [("backend_id", "=", self.backend.id)]
        )
        self.assertEqual(rows.exchange_id, done | error | pending)
        by_exchange = {row.exchange_id: row for row in rows}
        self.assertAlmostEqual(by_exchange[done].latency_seconds, 12.5)
        self.assertFalse(by_exchange[error].latency_seconds)
        self.assertEqual(by_exchange[error].failure_rate, 100.0)
        self.assertEqual(by_exchange[done].failure_rate, 0.0)
        self.assertEqual(by_exchange[pending].pending_count, 1)

    def test_dashboard_views_load(self):
        """The dashboard's own views are valid for a plain user's access."""
        user = self.env["res.users"].create(
            {
                "name": "Dashboard reader",
                "login": "dashboard-reader",
                "group_ids": [
                    (
                        4,
                        self.env.ref(
                            "distribution_connector.group_distribution_user"
                        ).id,
                    )
                ],
            }
        )
        self.make_exchange(latency=2)
        backend = self.backend.with_user(user)
        for view, view_type in (
            ("distribution_sync.distribution_backend_view_kanban_dashboard", "kanban"),
            ("distribution_sync.distribution_backend_view_form_health", "form"),
        ):
            views = backend.get_views([(self.env.ref(view).id, view_type)])["views"]
            self.assertIn("health_pending_count", views[view_type]["arch"])
        backend.invalidate_recordset()
        self.assertEqual(backend.health_exchange_count, 1)
        self.assertEqual(len(backend.health_flow_ids), 1)
        backend.health_queue_backlog_ids.mapped("channel")
