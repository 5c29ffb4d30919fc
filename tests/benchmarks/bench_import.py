#!/usr/bin/env python3
"""Order import throughput against the direct ORM floor, and the time from
an order's acknowledgement to the stock published on the other channels.

What it measures, in one run on one throwaway database:

1. The pipeline. N signed generic-JSON channel orders (a realistic mix: 1 to
   8 lines of known SKUs, a few orders with an unknown SKU, some deliveries
   sent twice, some orders sent again as an update with a newer
   ``updated_at``) are posted by ``--clients`` concurrent clients to the
   running product (``make run``'s instances, started from the Procfile by
   honcho) on a backend that confirms the orders it imports. The clock runs
   from the first post until every distinct order is a confirmed sale order
   or an exchange in error (its exception): orders/s.
2. The floor: the same orders (those that can become sale orders) created
   and confirmed directly with the ORM, ``sale.order.create`` and
   ``action_confirm`` with the customer created first, one transaction per
   order, by as many processes as the job runner runs imports at once (the
   capacity of ``root.distribution.inbound``), at the jobs instance's CPU
   priority, with the product stopped: orders/s, and the ratio pipeline /
   floor (goal >= 0.7).
3. Order-to-publish latency: two other channels (generic JSON backends with
   a publish rule on the warehouse) are served by fake channel servers on
   127.0.0.1 that record every quantity they confirm. For each order, the
   time from its acknowledgement until both channels have confirmed, for
   each of its known SKUs, a quantity that deducts it (and every order
   acknowledged before it). First ``--idle-orders`` orders posted one at a
   time on the idle product (goal p95 <= 10 s), then the burst (goal p95 <=
   60 s): p50, p95 and max of each.

It also says where the time goes: CPU seconds per order of the front
instance, the jobs instance(s) and the PostgreSQL backends of the database
during the pipeline, against the floor's workers and backends, and the jobs
that ran (count and total run time per kind).

``--jobs-instances 2`` runs two jobs instances on the database: the front
instance's queue_job runner sends each job to a round-robin TCP relay on
127.0.0.1 that hands the connections to both in turn (in production, a load
balancer in front of the jobs machines); it checks that both ran jobs and
that the results are the same. On two cores it shows correctness, not
speed.

Run it (several minutes with the defaults on two cores; use a small N to
try it)::

    python3 tests/benchmarks/bench_import.py [--orders 2000] [--clients 10]
        [--jobs-instances 1] [--idle-orders 20] [--keep-db]

Exit status: 0 when the counts are right and the goals are met, 1 when an
order is lost or doubled or a job is stuck, 2 when a goal is missed, 3 when
the setup fails.
"""

from __future__ import annotations

import argparse
import configparser
import json
import random
import secrets
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import harness

INSTALL = "distribution_sync,distribution_stock_publish"
WEBHOOK_PATH = "/distribution/webhook/{token}/order"
GOAL_RATIO = 0.7
GOAL_P95_IDLE = 10.0
GOAL_P95_BURST = 60.0
INITIAL_STOCK = 1_000_000
UNKNOWN_SHARE = 0.03  # orders with one unknown SKU
REDELIVERY_SHARE = 0.05  # deliveries sent twice, same event id
UPDATE_SHARE = 0.05  # orders sent again with a newer updated_at

EXIT_WRONG = 1
EXIT_GOAL = 2
EXIT_SETUP = 3

CATALOG = [
    (f"PEAK-{index:04d}", f"Catalog item {index}", round(5 + index * 0.75, 2))
    for index in range(1, 61)
]

# Runs in `odoo shell`: products with stock, the importing backend, and two
# channels with a publish rule each, served by the fake channel servers.
SETUP_SCRIPT = """
import json
import os

catalog = json.loads(os.environ["BENCH_CATALOG"])
warehouse = env["stock.warehouse"].search(
    [("company_id", "=", env.company.id)], limit=1
)
products = env["product.product"].create([
    {"name": name, "default_code": sku, "list_price": price, "is_storable": True}
    for sku, name, price in catalog
])
for product in products:
    env["stock.quant"]._update_available_quantity(
        product, warehouse.lot_stock_id, float(os.environ["BENCH_STOCK"])
    )
backend = env["distribution.backend"].create({
    "name": "Peak day shop",
    "kind": "sales_channel",
    "adapter": "generic_json",
    "auto_confirm": True,
    "webhook_secret": os.environ["BENCH_WEBHOOK_SECRET"],
})
for index, url in enumerate(json.loads(os.environ["BENCH_CHANNEL_URLS"])):
    channel = env["distribution.backend"].create({
        "name": f"Marketplace {index + 1}",
        "kind": "sales_channel",
        "adapter": "generic_json",
        "api_base_url": url,
        "allow_private_network": True,
        "rate_limit_per_second": 0,
    })
    env["distribution.publish.rule"].create({
        "backend_id": channel.id,
        "warehouse_ids": [(6, 0, warehouse.ids)],
    })
env.cr.commit()
print("BENCH-SETUP " + json.dumps({
    "token": backend.webhook_token,
    "backend_id": backend.id,
    "currency": env.company.currency_id.name,
}))
"""

# Runs in `odoo shell`, once per floor worker: its share of the orders,
# created and confirmed with the ORM, one transaction each, started together.
FLOOR_SCRIPT = """
import json
import os
import time
import psycopg2.errors
from pathlib import Path

orders = json.loads(Path(os.environ["BENCH_FLOOR_FILE"]).read_text())
products = {
    p.default_code: p.id
    for p in env["product.product"].search([("default_code", "like", "PEAK-")])
}
country = env["res.country"].search([("code", "=", "FR")], limit=1)
Path(os.environ["BENCH_FLOOR_READY"]).touch()
go = Path(os.environ["BENCH_FLOOR_GO"])
deadline = time.time() + 300
while not go.exists() and time.time() < deadline:
    time.sleep(0.05)
# a concurrent confirmation can fail on the same quant (serialization
# failure, lock): retried from the start, as Odoo retries an RPC call
RETRIED = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.LockNotAvailable,
)
retries = 0
started = time.time()
for data in orders:
    for attempt in range(10):
        try:
            address = data["billing_address"]
            partner = env["res.partner"].create({
                "name": address["name"], "email": address["email"],
                "phone": address["phone"], "street": address["street"],
                "street2": address["street2"], "city": address["city"],
                "zip": address["zip"], "country_id": country.id,
            })
            order = env["sale.order"].create({
                "partner_id": partner.id,
                "client_order_ref": data["name"],
                "note": data["note"],
                "order_line": [
                    (0, 0, {
                        "product_id": products[line["sku"]],
                        "product_uom_qty": line["quantity"],
                        "price_unit": line["unit_price"],
                    })
                    for line in data["lines"]
                ],
            })
            order.action_confirm()
            env.cr.commit()
            break
        except RETRIED:
            env.cr.rollback()
            env.invalidate_all()
            retries += 1
            time.sleep(0.05 * (attempt + 1))
print("BENCH-SETUP " + json.dumps(
    {"started": started, "ended": time.time(), "count": len(orders),
     "retries": retries}
))
"""


# ---------------------------------------------------------------------------
# Fake channels: record every quantity confirmed, with its time
# ---------------------------------------------------------------------------


class FakeChannel:
    """A generic-JSON channel's stock API on 127.0.0.1: ``POST /stock``
    confirms every quantity and remembers when it did, per SKU; ``POST
    /stock/read`` (the stock drift check) answers the last one."""

    def __init__(self):
        self.confirmed: dict[str, list[tuple[float, float]]] = {}
        self.lock = threading.Lock()
        channel = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                items = json.loads(self.rfile.read(length) or b"{}").get("items", [])
                if self.path.rstrip("/").endswith("/stock/read"):
                    answer = channel.read(items)  # the stock drift check
                else:
                    answer = channel.confirm(items)
                answer = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def confirm(self, items) -> dict:
        now = time.monotonic()
        with self.lock:
            for item in items:
                self.confirmed.setdefault(item["sku"], []).append(
                    (now, float(item["quantity"]))
                )
        results = [
            {"sku": item["sku"], "status": "ok", "actual_quantity": item["quantity"]}
            for item in items
        ]
        return {"results": results}

    def read(self, items) -> dict:
        with self.lock:
            results = [
                {
                    "sku": item["sku"],
                    "quantity": (self.confirmed.get(item["sku"]) or [(0, None)])[-1][1],
                }
                for item in items
            ]
        return {"results": results}

    def first_at_most(self, sku: str, quantity: float, since: float) -> float | None:
        """When this channel first confirmed at most ``quantity`` for ``sku``
        at or after ``since``."""
        with self.lock:
            for at, value in self.confirmed.get(sku, ()):
                if at >= since and value <= quantity + 1e-6:
                    return at
        return None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------
# The orders
# ---------------------------------------------------------------------------


def make_orders(count: int, prefix: str, rng: random.Random) -> list[dict]:
    """Distinct orders, each as its canonical document (currency filled in
    later) and its known SKUs' quantities."""
    orders = []
    for serial in range(count):
        lines = []
        for sku, name, price in rng.sample(CATALOG, rng.randint(1, 8)):
            lines.append((sku, name, price, rng.randint(1, 3), 0.0))
        if rng.random() < UNKNOWN_SHARE:
            lines.append((f"PEAK-UNKNOWN-{serial}", "Not in the catalog", 9.9, 1, 0.0))
        orders.append(
            {"external_id": f"{prefix}-{serial}", "serial": serial, "lines": lines}
        )
    return orders


def unknown(order: dict) -> bool:
    """Whether the order has a SKU the catalog does not know."""
    return any("UNKNOWN" in line[0] for line in order["lines"])


def messages_for(orders, currency, secret, rng) -> list[dict]:
    """The deliveries: each order once, some twice (same event id), some
    again as an update (newer updated_at, same lines, new event id), a
    repeat always after its first delivery in the sending order."""
    messages = []
    for order in orders:
        document = harness.order_document(
            order["external_id"], currency, order["serial"], order["lines"]
        )
        body = json.dumps(document, ensure_ascii=False).encode()
        messages.append(message(order, body, secret, "v1"))
    repeats = []
    for order in orders:
        if rng.random() < REDELIVERY_SHARE:
            repeats.append(dict(messages[order["serial"] - orders[0]["serial"]]))
        if rng.random() < UPDATE_SHARE:
            document = harness.order_document(
                order["external_id"],
                currency,
                order["serial"],
                order["lines"],
                updated_at="2025-03-14T10:02:41+01:00",
            )
            document["note"] = "Updated on the channel: delivery window confirmed."
            body = json.dumps(document, ensure_ascii=False).encode()
            repeats.append(message(order, body, secret, "v2"))
    for repeat in repeats:
        first = next(i for i, m in enumerate(messages) if m["order"] is repeat["order"])
        messages.insert(rng.randint(first + 1, len(messages)), repeat)
    return messages


def message(order, body, secret, version) -> dict:
    headers = {
        "Content-Type": "application/json",
        harness.EVENT_ID_HEADER: f"{order['external_id']}-{version}",
        harness.SIGNATURE_HEADER: harness.signature(secret, body),
    }
    return {"order": order, "body": body, "headers": headers}


def post(ctx, messages, clients):
    """Post ``messages``; each order's first acknowledgement time is kept."""
    url = ctx["base_url"] + WEBHOOK_PATH.format(token=ctx["token"])
    items = [(m["body"], m["headers"]) for m in messages]
    lock = threading.Lock()

    def on_answer(index, at, code, status):
        if code == 200 and status in ("accepted", "duplicate"):
            order = messages[index]["order"]
            with lock:
                if "acked_at" not in order or at < order["acked_at"]:
                    order["acked_at"] = at

    return harness.post_all(url, items, clients, ("accepted", "duplicate"), on_answer)


# ---------------------------------------------------------------------------
# Watching the database
# ---------------------------------------------------------------------------


def resolved(pg: harness.Pg, db: str, backend_id: int) -> tuple[int, int]:
    """(orders confirmed as sale orders, other orders whose exchange is in
    error) of the importing backend."""
    row = pg.psql(
        f"""
        WITH confirmed AS (
            SELECT DISTINCT distribution_external_id AS ref FROM sale_order
            WHERE distribution_backend_id = {backend_id} AND state = 'sale')
        SELECT (SELECT count(*) FROM confirmed),
               (SELECT count(DISTINCT external_ref) FROM distribution_exchange
                WHERE backend_id = {backend_id} AND state = 'error'
                  AND external_ref NOT IN (SELECT ref FROM confirmed))
        """,
        db,
    )
    confirmed, errors = row.split("|")
    return int(confirmed), int(errors)


def wait_resolved(pg, db, backend_id, expected, deadline) -> tuple[float, int, int]:
    """Wait until ``expected`` orders are resolved; (when, confirmed, errors)."""
    while True:
        confirmed, errors = resolved(pg, db, backend_id)
        now = time.monotonic()
        if confirmed + errors >= expected or now > deadline:
            return now, confirmed, errors
        time.sleep(0.5)


def wait_processed(pg, db, backend_id, deadline) -> None:
    """Wait until no exchange of the backend waits for its job and no job is
    due: once every order is resolved, another version of one may still be
    postponed (its order was being imported by another worker: its job runs
    again seconds later, and is then ignored as older or applied as newer),
    and the last sweep may wait for the stock channel's throttle."""
    while time.monotonic() < deadline:
        waiting = pg.psql(
            f"""
            SELECT (SELECT count(*) FROM distribution_exchange
                    WHERE backend_id = {backend_id}
                      AND state IN ('received', 'processing'))
                 + (SELECT count(*) FROM queue_job
                    WHERE state NOT IN ('done', 'failed', 'cancelled')
                      AND (eta IS NULL OR eta < now() at time zone 'utc'))
            """,
            db,
        )
        if not int(waiting):
            return
        time.sleep(1)


def publish_latencies(channels, orders, timeout) -> list[float | None]:
    """Per order (in acknowledgement order), seconds from its ack until both
    channels confirmed, for each known SKU, a quantity deducting every order
    acknowledged up to it; None when not seen within ``timeout``."""
    known = {sku for sku, _name, _price in CATALOG}
    ordered = sorted(
        (o for o in orders if "acked_at" in o), key=lambda o: o["acked_at"]
    )
    demand: dict[str, float] = {}
    targets = []
    for order in ordered:
        for sku, _name, _price, quantity, _discount in order["lines"]:
            if sku in known:
                demand[sku] = demand.get(sku, 0.0) + quantity
        wanted = {
            sku: INITIAL_STOCK - demand[sku]
            for sku, *_rest in order["lines"]
            if sku in known
        }
        targets.append((order, wanted))
    deadline = time.monotonic() + timeout
    while True:
        latencies = []
        for order, wanted in targets:
            seen = [
                channel.first_at_most(sku, quantity, order["acked_at"])
                for channel in channels
                for sku, quantity in wanted.items()
            ]
            latencies.append(
                None
                if None in seen
                else max(seen, default=order["acked_at"]) - order["acked_at"]
            )
        if None not in latencies or time.monotonic() > deadline:
            return latencies
        time.sleep(1)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # nearest rank
    return ordered[int(rank) - 1]


def latency_line(name, latencies, goal) -> bool:
    seen = [x for x in latencies if x is not None]
    missing = len(latencies) - len(seen)
    if not seen:
        print(f"  {name}: no order published ({missing} not seen)")
        return False
    p95 = percentile(seen, 95)
    ok = p95 <= goal and not missing
    print(
        f"  {name}: {len(seen)} orders, p50 {percentile(seen, 50):.1f} s,"
        f" p95 {p95:.1f} s, max {max(seen):.1f} s (goal p95 <= {goal:.0f} s),"
        f" not published {missing}: {harness.verdict(ok)}"
    )
    return ok


def job_summary(pg: harness.Pg, db: str) -> str:
    return pg.psql(
        "SELECT string_agg(line, E'\\n') FROM (SELECT format('    %-40s %6s jobs,"
        " %8s s run, states %s', model_name || '.' || method_name, count(*),"
        " round(sum(extract(epoch FROM date_done - date_started))::numeric, 1),"
        " string_agg(DISTINCT state, ',')) AS line FROM queue_job"
        " GROUP BY model_name, method_name ORDER BY model_name, method_name) s",
        db,
    )


def job_occupancy(
    pg: harness.Pg, db: str, since_epoch: float, until_epoch: float
) -> str:
    """How busy the job runner kept its slots with imports between two
    moments: the share of the time each job slot ran an import, and the mean
    gap between one import's end and the next one's start in the same
    worker."""
    row = pg.psql(
        f"""
        WITH jobs AS (
            SELECT worker_pid, date_started, date_done,
                   lag(date_done) OVER (PARTITION BY worker_pid
                                        ORDER BY date_started) AS previous_done
            FROM queue_job
            WHERE method_name = 'process' AND state = 'done'
              AND date_started >= to_timestamp({since_epoch}) at time zone 'utc'
              AND date_done <= to_timestamp({until_epoch}) at time zone 'utc')
        SELECT count(*),
               coalesce(sum(extract(epoch FROM date_done - date_started)), 0),
               coalesce(avg(extract(epoch FROM date_started - previous_done))
                        FILTER (WHERE date_started - previous_done
                                < interval '5 seconds'), 0),
               count(DISTINCT worker_pid)
        FROM jobs
        """,
        db,
    )
    count, busy, gap, workers = row.split("|")
    mean_run = float(busy) / max(int(count), 1)
    return (
        f"{count} imports ran {float(busy):.1f} s in {workers} worker(s) over"
        f" {until_epoch - since_epoch:.1f} s; mean run {mean_run * 1000:.0f} ms,"
        f" mean gap between two imports in one worker {float(gap) * 1000:.0f} ms"
    )


def check_counts(pg: harness.Pg, db: str, backend_id: int, orders: list[dict]) -> bool:
    """One sale order per distinct order that could be imported, none for
    the others, one exchange per distinct delivery, no job left behind."""
    importable = sum(1 for o in orders if not unknown(o))
    row = pg.psql(
        f"""
        SELECT (SELECT count(*) FROM sale_order
                WHERE distribution_backend_id = {backend_id}),
               (SELECT count(DISTINCT distribution_external_id) FROM sale_order
                WHERE distribution_backend_id = {backend_id}),
               (SELECT count(*) FROM distribution_exchange
                WHERE backend_id = {backend_id}),
               (SELECT count(DISTINCT external_event_id) FROM distribution_exchange
                WHERE backend_id = {backend_id}),
               (SELECT count(*) FROM distribution_exchange
                WHERE backend_id = {backend_id}
                  AND state IN ('received', 'processing')),
               (SELECT count(*) FROM queue_job
                WHERE state NOT IN ('done', 'failed', 'cancelled')
                  AND (eta IS NULL OR eta < now() at time zone 'utc'))
        """,
        db,
    )
    sale_orders, distinct, exchanges, events, unprocessed, pending = map(
        int, row.split("|")
    )
    ok = (
        sale_orders == distinct == importable
        and exchanges == events
        and not unprocessed
    )
    print(
        f"\nDatabase: {sale_orders} sale orders for {distinct} distinct channel orders"
        f" ({importable} importable of {len(orders)}), {exchanges} exchanges for"
        f" {events} distinct events, {unprocessed} exchanges not processed,"
        f" {pending} jobs due and not done: {harness.verdict(ok and not pending)}"
    )
    return ok and not pending


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


#: the options: name, type, default, help
OPTIONS = (
    ("--orders", int, 2000, "distinct orders of the burst"),
    ("--clients", int, 10, "concurrent clients posting the burst"),
    ("--idle-orders", int, 20, "orders posted one at a time before the burst"),
    ("--idle-gap", float, 3.0, "seconds between two idle orders"),
    ("--jobs-instances", int, 1, "jobs instances on the database (1 to 3)"),
    (
        "--floor-workers",
        int,
        0,
        "ORM floor processes (0: the capacity of root.distribution.inbound)",
    ),
    ("--timeout", float, 1800, "seconds the burst's orders may take"),
    ("--seed", int, 19, "random seed of the order mix"),
)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, kind, default, text in OPTIONS:
        parser.add_argument(
            name, type=kind, default=default, help=f"{text} (default: %(default)s)"
        )
    parser.add_argument("--keep-db", action="store_true", help="keep the database")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.clients < 1 or args.idle_orders < 0:
        parser.error("--orders and --clients must be >= 1, --idle-orders >= 0")
    if not 1 <= args.jobs_instances <= 3:
        parser.error("--jobs-instances takes 1 to 3")
    return args


def inbound_capacity(conf: Path) -> int:
    config = configparser.RawConfigParser()
    config.read(conf, encoding="utf-8")
    for part in config.get("queue_job", "channels", fallback="").split(","):
        name, _sep, capacity = part.strip().partition(":")
        if name == "root.distribution.inbound" and capacity.isdigit():
            return int(capacity)
    return 1


def start_product(args, ctx, workdir: Path, conf: Path) -> None:
    """The front instance and ``--jobs-instances`` jobs instances, each a
    Procfile line run by honcho; with more than one jobs instance the
    runner's requests go through the round-robin relay."""
    base = harness.procfile_env(conf, ctx["db"], ctx["env"])
    jobs_ports = [int(base["ODOO_JOBS_HTTP_PORT"])]
    jobs_ports += [harness.free_port() for _ in range(args.jobs_instances - 1)]
    runner_port = jobs_ports[0]
    if len(jobs_ports) > 1:
        ctx["relay"] = harness.RoundRobin(jobs_ports)
        runner_port = ctx["relay"].port
    ctx["procs"] = {}
    front_env = dict(base, ODOO_JOBS_HTTP_PORT=str(runner_port))
    ctx["procs"]["front"] = harness.start_honcho(front_env, workdir, ("front",))
    for index, port in enumerate(jobs_ports):
        options = base["DISTRIBUTION_JOBS_OPTIONS"].split()
        options = [o for o in options if not o.startswith("--logfile")]
        options.append(f"--logfile={workdir / f'odoo-jobs-{index + 1}.log'}")
        env = dict(
            base,
            ODOO_JOBS_HTTP_PORT=str(port),
            ODOO_JOBS_GEVENT_PORT=base["ODOO_JOBS_GEVENT_PORT"]
            if not index
            else str(harness.free_port()),
            DISTRIBUTION_JOBS_OPTIONS=" ".join(options),
        )
        ctx["procs"][f"jobs-{index + 1}"] = harness.start_honcho(
            env, workdir, ("jobs",)
        )
        ctx.setdefault("jobs_ports", []).append(port)
    ctx["base_url"] = f"http://127.0.0.1:{base['ODOO_HTTP_PORT']}"
    harness.wait_health(ctx["base_url"], ctx["procs"]["front"], workdir / "odoo.log")
    for index, port in enumerate(jobs_ports):
        harness.wait_health(
            f"http://127.0.0.1:{port}",
            ctx["procs"][f"jobs-{index + 1}"],
            workdir / f"odoo-jobs-{index + 1}.log",
        )
    print(
        f"Odoo up at {ctx['base_url']}: front instance (HTTP workers, queue_job's"
        f" runner) and {len(jobs_ports)} jobs instance(s) on ports"
        f" {', '.join(map(str, jobs_ports))}"
        + (
            f", the runner posting to a round-robin relay on port {runner_port}"
            if len(jobs_ports) > 1
            else ""
        )
    )


def stop_product(ctx) -> None:
    for proc in (ctx.get("procs") or {}).values():
        harness.stop_odoo(proc)
    if ctx.get("relay"):
        ctx["relay"].close()


def run_floor(ctx, conf, workdir, orders, workers) -> tuple:
    """The floor: (orders/s, worker CPU s, PostgreSQL CPU s, retries)."""
    import psutil

    slices = [orders[i::workers] for i in range(workers)]
    go = workdir / "floor-go"
    results: list = [None] * workers
    errors: list = []

    def worker(index):
        path = workdir / f"floor-{index}.json"
        path.write_text(json.dumps(slices[index]))
        env = dict(
            ctx["env"],
            BENCH_FLOOR_FILE=str(path),
            BENCH_FLOOR_READY=str(workdir / f"floor-ready-{index}"),
            BENCH_FLOOR_GO=str(go),
        )
        try:
            results[index] = harness.odoo_shell(
                conf,
                ctx["db"],
                env,
                FLOOR_SCRIPT,
                "The ORM floor",
                workdir / "odoo.log",
                as_jobs=True,
            )
        except harness.SetupError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 300
    while not all((workdir / f"floor-ready-{i}").exists() for i in range(workers)):
        if time.monotonic() > deadline or errors:
            break
        time.sleep(0.2)
    me = psutil.Process()
    shells = [p.pid for p in me.children(recursive=True)]
    cpu_before, pg_before = harness.tree_cpu(shells), harness.postgres_cpu(ctx["db"])
    go.touch()
    cpu_during = cpu_before
    pg_during = pg_before
    while any(t.is_alive() for t in threads):
        cpu_during = max(cpu_during, harness.tree_cpu(shells))
        pg_during = max(pg_during, harness.postgres_cpu(ctx["db"]))
        time.sleep(0.5)
    if errors or None in results:
        raise harness.SetupError(f"The ORM floor failed: {errors[:1]}")
    started = min(r["started"] for r in results)
    ended = max(r["ended"] for r in results)
    count = sum(r["count"] for r in results)
    retries = sum(r["retries"] for r in results)
    return (
        count / (ended - started),
        cpu_during - cpu_before,
        pg_during - pg_before,
        retries,
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    pg = harness.Pg.from_env()
    ctx = {
        "db": f"distribution_bench_{secrets.token_hex(4)}",
        "secret": secrets.token_urlsafe(32),
    }
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="distribution_bench_"))
    channels = [FakeChannel(), FakeChannel()]
    created = False
    started = time.monotonic()
    outcome = {"counts": False, "goals": False}
    try:
        version = harness.check_odoo()
        pg.check()
        print(f"Odoo {version}; benchmark database {ctx['db']}", flush=True)
        ctx["env"] = env = harness.odoo_env()
        created = True
        print(f"Installing {INSTALL}...", flush=True)
        conf, log = harness.prepare(pg, ctx["db"], workdir, env, INSTALL)
        shell_env = dict(
            env,
            BENCH_WEBHOOK_SECRET=ctx["secret"],
            BENCH_CATALOG=json.dumps(CATALOG),
            BENCH_STOCK=str(INITIAL_STOCK),
            BENCH_CHANNEL_URLS=json.dumps([c.url for c in channels]),
        )
        data = harness.odoo_shell(
            conf, ctx["db"], shell_env, SETUP_SCRIPT, "Creating the backends", log
        )
        backend_id = data["backend_id"]
        ctx["token"] = data["token"]
        run_id = secrets.token_hex(3)
        idle_orders = make_orders(args.idle_orders, f"{run_id}-idle", rng)
        burst_orders = make_orders(args.orders, f"{run_id}-peak", rng)
        for order in burst_orders:
            order["serial"] += args.idle_orders
            order["external_id"] = f"{run_id}-peak-{order['serial']}"
        burst = messages_for(burst_orders, data["currency"], ctx["secret"], rng)
        print(
            f"Orders: {len(burst_orders)} in the burst as {len(burst)} deliveries"
            f" ({len(burst) - len(burst_orders)} sent again or updated,"
            f" {sum(1 for o in burst_orders if unknown(o))}"
            f" with an unknown SKU), {len(idle_orders)} before it one at a time"
        )
        start_product(args, ctx, workdir, conf)

        # -- idle: one order at a time --------------------------------------
        idle_ok = True
        if idle_orders:
            idle = messages_for(
                idle_orders, data["currency"], ctx["secret"], random.Random(0)
            )
            idle = [
                m for m in idle if m["headers"][harness.EVENT_ID_HEADER].endswith("-v1")
            ]
            for item in idle:
                post(ctx, [item], 1)
                time.sleep(args.idle_gap)
            latencies = publish_latencies(channels, idle_orders, 120)
            print("\nOrder-to-publish latency (both other channels confirmed):")
            idle_ok = latency_line(
                "idle, one order at a time", latencies, GOAL_P95_IDLE
            )
        already = args.idle_orders - sum(1 for o in idle_orders if unknown(o))
        wait_resolved(
            pg, ctx["db"], backend_id, args.idle_orders, time.monotonic() + 300
        )

        # -- the burst ------------------------------------------------------
        front_pid = [ctx["procs"]["front"].pid]
        jobs_pids = [p.pid for name, p in ctx["procs"].items() if name != "front"]
        cpu0 = (
            harness.tree_cpu(front_pid),
            harness.tree_cpu(jobs_pids),
            harness.postgres_cpu(ctx["db"]),
        )
        t0, t0_epoch = time.monotonic(), time.time()
        result = post(ctx, burst, args.clients)
        posted = time.monotonic() - t0
        print(
            f"\nBurst: {result.acks} of {len(burst)} deliveries acknowledged in"
            f" {posted:.1f} s by {args.clients} clients ({result.errors} errors,"
            f" {result.retries} retries)"
        )
        cpu_peak = cpu0
        done_at = None
        deadline = t0 + args.timeout
        while time.monotonic() < deadline:
            cpu_peak = tuple(
                max(a, b)
                for a, b in zip(
                    cpu_peak,
                    (
                        harness.tree_cpu(front_pid),
                        harness.tree_cpu(jobs_pids),
                        harness.postgres_cpu(ctx["db"]),
                    ),
                    strict=True,
                )
            )
            confirmed, errors = resolved(pg, ctx["db"], backend_id)
            if confirmed + errors >= args.idle_orders + args.orders:
                done_at = time.monotonic()
                break
            time.sleep(0.5)
        confirmed -= already
        errors -= args.idle_orders - already
        if done_at is None:
            print(
                f"  not resolved within {args.timeout:.0f} s: {confirmed} confirmed,"
                f" {errors} in error"
            )
            return EXIT_WRONG
        elapsed = done_at - t0
        occupancy = job_occupancy(pg, ctx["db"], t0_epoch, t0_epoch + elapsed + 1)
        rate = args.orders / elapsed
        print(
            f"  every order resolved {elapsed:.1f} s after the first post:"
            f" {confirmed} confirmed sale orders, {errors} in error (unknown SKU)"
            f" = {rate:.1f} orders/s"
        )
        latencies = publish_latencies(channels, burst_orders, 300)
        burst_ok = latency_line("during the burst", latencies, GOAL_P95_BURST)
        time.sleep(2)
        print("\nJobs that ran (all phases): count, total run time, states")
        for line in job_summary(pg, ctx["db"]).splitlines():
            print(f"    {line.strip()}")
        if args.jobs_instances > 1:
            relay = ctx["relay"].connections
            print(
                "  runner requests per jobs instance (round robin): "
                + ", ".join(f"port {port}: {n}" for port, n in relay.items())
            )
        wait_processed(pg, ctx["db"], backend_id, time.monotonic() + 120)
        outcome["counts"] = check_counts(
            pg, ctx["db"], backend_id, idle_orders + burst_orders
        )
        stop_product(ctx)

        # -- the floor ------------------------------------------------------
        workers = args.floor_workers or inbound_capacity(conf)
        floor_orders = [
            harness.order_document(
                f"{run_id}-floor-{o['serial']}",
                data["currency"],
                o["serial"],
                o["lines"],
            )
            for o in burst_orders
            if not unknown(o)
        ]
        print(
            f"\nFloor: {len(floor_orders)} orders created and confirmed with the ORM"
            f" by {workers} processes...",
            flush=True,
        )
        floor_rate, floor_cpu, floor_pg, floor_retries = run_floor(
            ctx, conf, workdir, floor_orders, workers
        )
        ratio = rate / floor_rate
        goal_ok = ratio >= GOAL_RATIO
        print(
            f"  {floor_rate:.1f} orders/s ({floor_retries} order(s) retried after"
            " a serialization failure or a lock)"
        )
        print(
            f"\nPipeline {rate:.1f} orders/s, ORM floor {floor_rate:.1f} orders/s:"
            f" ratio {ratio:.2f} (goal >= {GOAL_RATIO}) {harness.verdict(goal_ok)}"
        )
        front, jobs, pgcpu = (b - a for a, b in zip(cpu0, cpu_peak, strict=True))
        n_floor = len(floor_orders)
        print(
            "Where the CPU went, ms per order: pipeline front"
            f" {front * 1000 / args.orders:.0f}, jobs {jobs * 1000 / args.orders:.0f},"
            f" PostgreSQL {pgcpu * 1000 / args.orders:.0f}; floor workers"
            f" {floor_cpu * 1000 / n_floor:.0f},"
            f" PostgreSQL {floor_pg * 1000 / n_floor:.0f}"
            " (PostgreSQL: the backends of the database still connected)"
        )
        print(f"Imports during the burst: {occupancy}")
        outcome["goals"] = goal_ok and idle_ok and burst_ok
    except harness.SetupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_SETUP
    finally:
        stop_product(ctx)
        for channel in channels:
            channel.close()
        kept = f"Kept database {ctx['db']}; logs in {workdir}"
        harness.clean_up(pg, ctx["db"], created, args.keep_db, workdir, started, kept)
    if not outcome["counts"]:
        status, verdict_line = (
            EXIT_WRONG,
            "An order is lost or doubled, or a job stuck.",
        )
    elif not outcome["goals"]:
        status, verdict_line = EXIT_GOAL, "Goals missed (see above)."
    else:
        status, verdict_line = 0, "All goals met."
    print(verdict_line)
    return status


if __name__ == "__main__":
    sys.exit(main())
