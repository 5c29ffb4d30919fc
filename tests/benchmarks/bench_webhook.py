#!/usr/bin/env python3
"""Webhook throughput and latency, compared with a bare Odoo route.

What it measures: how fast a running Odoo acknowledges signed inbound
webhooks (``POST /distribution/webhook/<token>/order``: signature check,
one exchange row, a check that its backend's dispatcher job is pending,
answer) compared with a POST route that
does nothing (``/distribution/bench/bare`` from the benchmark-only addon
``tests/benchmarks/addons/distribution_bench_bare``, declared with the
webhook route's decorator). Both targets get the same load in the same
run: N requests with M concurrent clients, for each M of ``--clients``,
with identical ~2 KB canonical order bodies and headers (each request has
its own event id and HMAC-SHA256 signature). Rounds alternate between the
targets (bare, webhook, bare, webhook) and each target is warmed up first.

Per concurrency level it prints acks/s (2xx answers per second), p50 and
p99 latency for both targets and the webhook/bare ratios, with PASS/FAIL
against the goals: throughput >= 0.7x and p99 <= 1.5x the bare route's.
Absolute figures depend on the machine (and on what else runs on it):
judge by the ratios. On a virtual machine each round also shows the share
of CPU time the host gave to other machines meanwhile ("steal", Linux): a
round that lost much of it is not comparable with its neighbours.

How: it creates a throwaway database ``distribution_bench_<hex>``
(PostgreSQL from PGHOST, PGPORT, PGUSER, default 127.0.0.1, 5432, odoo),
installs distribution_sync and the bare-route addon, creates a generic_json
backend with a webhook secret and the products the orders refer to, then
starts Odoo as odoo.conf.example recommends and as ``make run`` does: the
two instances of the Procfile, run by honcho (the example's settings are
copied: the front instance's HTTP workers and queue_job's runner and
channels, the jobs instance of ``[distribution_jobs]``), on free ports of
127.0.0.1, logging warnings to files. At the end it waits for the
dispatchers and checks that the database holds exactly one exchange and one
processing job per webhook sent, stops Odoo and drops the database (unless
``--keep-db``).

The job runner runs during the measurement, as in production: the orders
that the webhooks bring in are imported meanwhile by the jobs instance, at
its lower CPU priority. Each level starts with the webhook warm-up, so the
runner has work from the first round on, and the rounds follow each other
without waiting: both targets are measured while the jobs instance works
through the backlog with the CPU the requests leave (each round line shows
the queue and the jobs finished meanwhile). With ``--drain-timeout S`` every
round waits instead (up to S seconds) for an empty queue: each round then
starts on an idle server and the webhook rounds bear the imports they cause
(a burst on a quiet server; much slower to run).

Odoo answers every request with ``Connection: close`` and queues at most
``8 * workers`` connections (56 with the example's 7 workers): beyond that
connections fail or wait for the kernel's SYN retry (1 s, 3 s...). A failed
connection is retried (same body, same event id, up to 5 attempts, timed
from the first one) and counted under "retries", as a webhook sender
would.

The encryption key comes from DISTRIBUTION_ENCRYPTION_KEYS, generated for
the run when unset.

Run it (a few minutes with the defaults on two cores)::

    python3 tests/benchmarks/bench_webhook.py [--requests N] [--clients 10,50]
        [--keep-db]

Exit status: 0 when every answer and count is right and the goals are met,
1 when an answer or a count is wrong, 2 when a goal is missed, 3 when the
setup fails (Odoo 19.0 not importable, PostgreSQL not answering, install
failure, Odoo not starting).
"""

from __future__ import annotations

import argparse
import configparser
import json
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path
from statistics import mean

from harness import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    Pg,
    Result,
    SetupError,
    check_odoo,
    clean_up,
    cpu_ticks,
    fmt_ms,
    free_port,
    install,
    odoo_env,
    odoo_shell,
    order_document,
    post_all,
    signature,
    split,
    start_odoo,
    stolen_share,
    stop_odoo,
    verdict,
    wait_dispatched,
    wait_drained,
    wait_health,
    write_config,
)

INSTALL = "distribution_sync,distribution_bench_bare"
BARE_PATH = "/distribution/bench/bare"
WEBHOOK_PATH = "/distribution/webhook/{token}/order"

GOAL_THROUGHPUT = 0.7  # webhook acks/s >= 0.7 x bare acks/s
GOAL_P99 = 1.5  # webhook p99 <= 1.5 x bare p99

EXIT_WRONG = 1
EXIT_GOAL = 2
EXIT_SETUP = 3

SKUS = [
    ("BENCH-TSHIRT-M", "Organic cotton T-shirt, size M, heather grey", 19.9),
    ("BENCH-MUG-350", "Stoneware mug 350 ml, matte black", 12.5),
    ("BENCH-BAG-TOTE", "Recycled canvas tote bag, natural", 24.0),
]

# Runs in `odoo shell` (stdin): the backend, its secret and the products.
SETUP_SCRIPT = """
import json
import os

products = env["product.product"]
for sku, name, price in json.loads(os.environ["BENCH_SKUS"]):
    products |= products.create(
        {"name": name, "default_code": sku, "list_price": price, "is_storable": True}
    )
backend = env["distribution.backend"].create(
    {
        "name": "Benchmark channel",
        "kind": "sales_channel",
        "adapter": "generic_json",
        "webhook_secret": os.environ["BENCH_WEBHOOK_SECRET"],
    }
)
env.cr.commit()
print("BENCH-SETUP " + json.dumps({
    "token": backend.webhook_token,
    "currency": env.company.currency_id.name,
}))
"""


# ---------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------


def order_body(external_id: str, currency: str, serial: int) -> bytes:
    """A canonical order (addons/distribution_sync/schemas/order.json), ~2 KB."""
    lines = [
        (sku, name, price, 1 + (serial + index) % 3, 2.0 if index == 0 else 0.0)
        for index, (sku, name, price) in enumerate(SKUS)
    ]
    order = order_document(external_id, currency, serial, lines)
    return json.dumps(order, indent=2, ensure_ascii=False).encode()


def make_requests(
    count: int, prefix: str, secret: str, currency: str
) -> list[tuple[bytes, dict[str, str]]]:
    items = []
    for serial in range(count):
        external_id = f"{prefix}-{serial}"
        body = order_body(external_id, currency, serial)
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: f"{external_id}-{uuid.uuid4().hex}",
            SIGNATURE_HEADER: signature(secret, body),
        }
        items.append((body, headers))
    return items


# The benchmark
# ---------------------------------------------------------------------------


def run_level(args, ctx, clients: int) -> dict:
    """Warm up, then alternate bare and webhook rounds at one concurrency."""
    pg, db = ctx["pg"], ctx["db"]
    # the webhook first: its jobs keep the job runner busy from the start,
    # so that both targets are measured with the same background work
    targets = {
        "webhook": (
            ctx["base_url"] + WEBHOOK_PATH.format(token=ctx["token"]),
            "accepted",
        ),
        "bare": (ctx["base_url"] + BARE_PATH, "ok"),
    }
    totals = {"bare": Result(), "webhook": Result()}
    warmups = {}
    rounds = {}
    for name in targets:
        prefix = f"{ctx['run_id']}-c{clients}-{name}"
        warmups[name] = make_requests(
            args.warmup, f"{prefix}-w", ctx["secret"], ctx["currency"]
        )
        rounds[name] = split(
            make_requests(args.requests, prefix, ctx["secret"], ctx["currency"]),
            args.rounds,
        )
    print(f"\n== {clients} concurrent clients, {args.requests} requests per target")
    for name, (url, expected) in targets.items():
        warm = post_all(url, warmups[name], clients, expected)
        print(f"  warm-up {name:7s}: {warm.acks}/{args.warmup} acks")
        if name == "webhook":
            ctx["sent_webhooks"] += len(warmups[name])
            ctx["wrong_webhooks"] += warm.errors
    for index in range(args.rounds):
        for name in ("bare", "webhook"):
            url, expected = targets[name]
            waited = wait_drained(pg, db, args.drain_timeout)
            pending, finished = pg.job_counts(db)
            ticks = cpu_ticks()
            result = post_all(url, rounds[name][index], clients, expected)
            share = stolen_share(ticks, cpu_ticks())
            finished = pg.job_counts(db)[1] - finished
            if share is not None:
                result.stolen.append(share)
            totals[name].add(result)
            if name == "webhook":
                ctx["sent_webhooks"] += len(rounds[name][index])
                ctx["wrong_webhooks"] += result.errors
            queue = f"{pending} jobs queued at start, {finished} run during round"
            if share is not None:
                queue += f", host steal {share:.0%}"
            if args.drain_timeout:
                queue = f"waited {waited:.0f} s, " + queue
            print(
                f"  round {index + 1} {name:7s}: {result.acks:5d} acks in"
                f" {result.elapsed:5.1f} s = {result.rate:6.1f}/s, p50"
                f" {result.percentile(50):6.1f} ms, p99 {result.percentile(99):7.1f}"
                f" ms, errors {result.errors}, retries {result.retries} ({queue})"
            )
    return totals


def report_level(clients: int, totals: dict) -> bool:
    bare, hook = totals["bare"], totals["webhook"]
    throughput_ratio = hook.rate / bare.rate if bare.rate else 0.0
    p99_ratio = hook.percentile(99) / bare.percentile(99) if bare.latencies else 0.0
    ok_throughput = throughput_ratio >= GOAL_THROUGHPUT
    ok_p99 = p99_ratio <= GOAL_P99
    print(f"\n-- {clients} clients: results")
    print("  target      acks/s   p50 (ms)  p99 (ms)   acks  errors  retries")
    for name, result in (("bare", bare), ("webhook", hook)):
        print(
            f"  {name:8s} {result.rate:9.1f} {fmt_ms(result.percentile(50))}"
            f"  {fmt_ms(result.percentile(99))} {result.acks:6d} {result.errors:7d}"
            f" {result.retries:8d}"
        )
    if bare.stolen and hook.stolen:
        print(
            "  CPU time the host gave to other machines (steal), mean per round:"
            f" bare {mean(bare.stolen):.0%}, webhook {mean(hook.stolen):.0%}"
        )
    if hook.duplicates:
        print(
            f"  {hook.duplicates} webhook(s) answered 'duplicate' on a retry: the"
            " failed attempt had been stored"
        )
    print(
        f"  ratio webhook/bare: throughput {throughput_ratio:.2f}"
        f" (goal >= {GOAL_THROUGHPUT}) {verdict(ok_throughput)},"
        f" p99 {p99_ratio:.2f} (goal <= {GOAL_P99}) {verdict(ok_p99)}"
    )
    for name, result in (("bare", bare), ("webhook", hook)):
        if result.errors:
            print(
                f"  {name} errors: {result.non_2xx} non-2xx, {result.exceptions}"
                f" exceptions, {result.unexpected} unexpected bodies;"
                f" e.g. {result.samples[:3]}"
            )
    return ok_throughput and ok_p99


def check_database(ctx) -> bool:
    pg, db = ctx["pg"], ctx["db"]
    expected = ctx["sent_webhooks"]
    waiting = wait_dispatched(pg, db, 120)
    exchanges = int(pg.psql("SELECT count(*) FROM distribution_exchange", db))
    # one processing job per exchange: count jobs and the exchanges they name
    jobs, distinct = (
        int(value)
        for value in pg.psql(
            "SELECT count(*), count(DISTINCT (records #>> '{}')::jsonb -> 'ids' ->> 0)"
            " FROM queue_job WHERE model_name = 'distribution.exchange'"
            " AND method_name = 'process'",
            db,
        ).split("|")
    )
    dispatchers = int(
        pg.psql(
            "SELECT count(*) FROM queue_job WHERE model_name = 'distribution.exchange'"
            " AND method_name = 'dispatch'",
            db,
        )
    )
    states = pg.psql(
        "SELECT string_agg(state || ' ' || n, ', ' ORDER BY state) FROM"
        " (SELECT state, count(*) AS n FROM queue_job GROUP BY state) s",
        db,
    )
    orders = int(
        pg.psql(
            "SELECT count(*) FROM sale_order WHERE distribution_backend_id IS NOT NULL",
            db,
        )
    )
    ok = exchanges == expected and jobs == distinct == expected and not waiting
    print(
        f"\nDatabase: {exchanges} exchanges and {jobs} processing jobs (for"
        f" {distinct} distinct exchanges) for {expected} webhooks sent (warm-up"
        f" included), enqueued by {dispatchers} dispatcher jobs: {verdict(ok)}"
    )
    print(
        f"  job states now: {states or 'none'}; sale orders imported so far: {orders}"
    )
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=2000,
        help="requests per target and concurrency level (default: %(default)s)",
    )
    parser.add_argument(
        "--clients",
        default="10,50",
        help="comma-separated concurrency levels (default: %(default)s)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=50,
        help="warm-up requests per target and level (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="alternating rounds per target and level (default: %(default)s)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=0,
        help="before each round, wait up to this many seconds for the job queue"
        " to be empty (default: %(default)s, no wait: see the module docstring)",
    )
    parser.add_argument(
        "--keep-db",
        action="store_true",
        help="keep the database (and Odoo's log) after the run",
    )
    args = parser.parse_args(argv)
    try:
        args.levels = [int(x) for x in args.clients.split(",") if x.strip()]
    except ValueError:
        parser.error("--clients takes comma-separated integers, e.g. 10,50")
    if not args.levels or min(args.levels) < 1:
        parser.error("--clients needs at least one level >= 1")
    if args.requests < args.rounds or args.rounds < 1 or args.warmup < 0:
        parser.error("--requests must be >= --rounds >= 1, --warmup >= 0")
    return args


def setup(args, ctx, workdir: Path) -> None:
    pg, db = ctx["pg"], ctx["db"]
    conf = workdir / "odoo.conf"
    log = workdir / "odoo.log"
    port, jobs_port = free_port(), free_port()
    write_config(conf, workdir, pg, db, port, jobs_port)
    env = ctx["env"]

    print(f"Installing {INSTALL} in database {db}...", flush=True)
    started = time.monotonic()
    install(conf, db, pg, INSTALL, env, log)
    print(f"  installed in {time.monotonic() - started:.0f} s")
    shell_env = dict(
        env, BENCH_WEBHOOK_SECRET=ctx["secret"], BENCH_SKUS=json.dumps(SKUS)
    )
    data = odoo_shell(conf, db, shell_env, SETUP_SCRIPT, "Creating the backend", log)
    ctx["token"], ctx["currency"] = data["token"], data["currency"]

    ctx["proc"] = start_odoo(conf, db, env, workdir)
    ctx["base_url"] = f"http://127.0.0.1:{port}"
    wait_health(ctx["base_url"], ctx["proc"], log)
    wait_health(f"http://127.0.0.1:{jobs_port}", ctx["proc"], workdir / "odoo-jobs.log")
    example = configparser.RawConfigParser()
    example.read(conf)
    options = dict(example.items("options"))
    jobs = dict(example.items("distribution_jobs"))
    channels = example.get("queue_job", "channels", fallback="(queue_job default)")
    print(
        f"Odoo up at {ctx['base_url']}: workers = {options.get('workers')},"
        f" max_cron_threads = {options.get('max_cron_threads')},"
        f" server_wide_modules = {options.get('server_wide_modules')}"
    )
    print(
        f"  jobs instance on port {jobs_port}: workers = {jobs.get('workers')},"
        f" max_cron_threads = {jobs.get('max_cron_threads')},"
        f" server_wide_modules = {jobs.get('server_wide_modules')},"
        " at a lower CPU priority (the Procfile's jobs line)"
    )
    print(f"  queue_job channels = {channels}")
    if args.drain_timeout:
        mode = (
            f"each round waits up to {args.drain_timeout:.0f} s for an empty queue,"
            " then the webhook rounds bear the imports they cause"
        )
    else:
        mode = "both targets are measured while it works through the backlog"
    print(
        "  The job runner runs (as in production): the orders are imported by"
        f" the jobs instance, at its lower CPU priority; {mode}."
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pg = Pg.from_env()
    ctx = {
        "pg": pg,
        "db": f"distribution_bench_{secrets.token_hex(4)}",
        "run_id": secrets.token_hex(3),
        "secret": secrets.token_urlsafe(32),
        "proc": None,
        "sent_webhooks": 0,
        "wrong_webhooks": 0,
    }
    workdir = Path(tempfile.mkdtemp(prefix="distribution_bench_"))
    started = time.monotonic()
    created = False
    try:
        version = check_odoo()
        pg.check()
        try:
            import requests  # noqa: F401
        except ImportError as exc:
            raise SetupError("The requests library is needed.") from exc
        print(f"Odoo {version}; benchmark database {ctx['db']}", flush=True)
        ctx["env"] = odoo_env()
        created = True
        setup(args, ctx, workdir)
        goals_met = True
        for clients in args.levels:
            totals = run_level(args, ctx, clients)
            goals_met = report_level(clients, totals) and goals_met
        counts_ok = check_database(ctx)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_SETUP
    finally:
        stop_odoo(ctx["proc"])
        kept = f"Kept database {ctx['db']}; Odoo's log: {workdir / 'odoo.log'}"
        clean_up(pg, ctx["db"], created, args.keep_db, workdir, started, kept)

    if ctx["wrong_webhooks"]:
        print(f"FAIL: {ctx['wrong_webhooks']} webhook answer(s) not 200 accepted.")
        return EXIT_WRONG
    if not counts_ok:
        return EXIT_WRONG
    if not goals_met:
        print("Goals missed (see the ratios above).")
        return EXIT_GOAL
    print("All goals met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
