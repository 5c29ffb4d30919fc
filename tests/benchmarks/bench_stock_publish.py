#!/usr/bin/env python3
"""Benchmark of the stock publishing engine (distribution_stock_publish).

Builds a catalog (default 100,000 products), 3 warehouses with quants and
5 channels with publish rules, then measures in one run:

(a) a full recompute with the engine: first the cold one (creates and
    writes every level), then a warm one (levels exist, stock unchanged),
    each with a new engine as production builds one per sweep or action;
(b) the naive way many connectors do it: ``free_qty`` read per product with
    a warehouse in the context, per warehouse of each channel (on a random
    sample of products, extrapolated linearly to the catalog when smaller);
(c) stock moves done, then the incremental sweep (100, then 1,000 moves);
(d) the floor: one bare grouped SQL scan of the quants per warehouse,
    fetched; measured in turns with the warm recompute, so that both meet
    the same load on a shared machine.

It prints wall times, the peak memory of each phase (resident set size,
sampled) and the ratios engine/naive and engine/floor.

Usage::

    python3 tests/benchmarks/bench_stock_publish.py [--products N]
        [--db NAME] [--keep-db] [--naive-sample N]

Without ``--db`` a throwaway database ``distribution_bench_<hex>`` is
created and dropped afterwards (unless ``--keep-db``). PostgreSQL comes
from PGHOST, PGPORT and PGUSER (default 127.0.0.1, 5432, odoo).
"""

import argparse
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ADDONS = REPO / "addons"
MODULE = "distribution_stock_publish"
WAREHOUSES = 3
BATCH = 1000
#: rounds of the floor and the full recompute, in turns
ROUNDS = 5


# -- measuring -----------------------------------------------------------------


def rss_bytes():
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Measure:
    """Wall time and peak resident memory of a block (sampled every 5 ms,
    so that measuring does not slow the measured code down)."""

    def __init__(self):
        self.seconds = 0.0
        self.peak = 0
        self.start_rss = 0
        self._stop = threading.Event()

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self):
        self.start_rss = self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._started
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def extra_mb(self):
        return (self.peak - self.start_rss) / 2**20

    def __str__(self):
        return (
            f"{self.seconds:8.2f} s, peak memory {self.peak / 2**20:7.0f} MB "
            f"(+{self.extra_mb:.0f} MB)"
        )


def say(text=""):
    print(text, flush=True)


# -- database --------------------------------------------------------------------


def pg_params():
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": int(os.environ.get("PGPORT", "5432")),
        "user": os.environ.get("PGUSER", "odoo"),
    }


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def odoo_args(db):
    pg = pg_params()
    return [
        "-d",
        db,
        "--db_host",
        pg["host"],
        "--db_port",
        str(pg["port"]),
        "-r",
        pg["user"],
        f"--addons-path={ADDONS}",
        "--load=base,web,queue_job",
        "--without-demo=True",
        "--log-level=warn",
        "--http-interface=127.0.0.1",
    ]


def install(db, env):
    """Install the addon (and sale_stock...) with Odoo's own command line."""
    log = Path(tempfile.gettempdir()) / f"{db}-install.log"
    cmd = [
        sys.executable,
        "-m",
        "odoo",
        *odoo_args(db),
        "-i",
        MODULE,
        "--stop-after-init",
        f"--http-port={free_port()}",
        "--max-cron-threads=0",
    ]
    with open(log, "w") as out:
        done = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        say(Path(log).read_text()[-4000:])
        raise SystemExit(f"Installing {MODULE} failed (log: {log})")


def drop_database(db):
    import psycopg2

    from odoo import sql_db

    sql_db.close_db(db)
    connection = psycopg2.connect(dbname="postgres", **pg_params())
    connection.autocommit = True
    with connection.cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    connection.close()


def vacuum(db, *tables):
    import psycopg2

    connection = psycopg2.connect(dbname=db, **pg_params())
    connection.autocommit = True
    with connection.cursor() as cr:
        for table in tables:
            cr.execute(f"VACUUM ANALYZE {table}")
    connection.close()


# -- data --------------------------------------------------------------------------


def build_catalog(env, count, with_orm):
    """Warehouses, categories and products.

    Products: ORM ``create`` in batches of 1000 with ``with_orm`` (about 3
    to 8 minutes for 100,000 here), else one ORM-created product cloned by
    SQL, column by column, so that every clone is a complete product.
    """
    env = env(
        context=dict(
            env.context,
            tracking_disable=True,
            mail_create_nolog=True,
            mail_notrack=True,
        )
    )
    warehouses = env["stock.warehouse"]
    for index in range(1, WAREHOUSES + 1):
        warehouses |= warehouses.create(
            {"name": f"Bench WH{index}", "code": f"BW{index}"}
        )
    root = env["product.category"].create({"name": "Bench"})
    categories = env["product.category"].create(
        [{"name": f"Bench family {i}", "parent_id": root.id} for i in range(10)]
    )
    if with_orm:
        product_ids = []
        for start in range(0, count, BATCH):
            products = env["product.product"].create(
                [
                    {
                        "name": f"Bench product {i}",
                        "default_code": f"BENCH-{i:06d}",
                        "is_storable": True,
                        "categ_id": categories[i % len(categories)].id,
                    }
                    for i in range(start, min(count, start + BATCH))
                ]
            )
            product_ids += products.ids
            env.flush_all()
            env.invalidate_all()
            env.cr.commit()
    else:
        product_ids = clone_products(env, count, categories)
    env.cr.commit()
    return warehouses, categories, product_ids


def columns_of(cr, table):
    cr.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = %s AND column_name <> 'id' ORDER BY ordinal_position",
        [table],
    )
    return [row[0] for row in cr.fetchall()]


def clone_products(env, count, categories):
    from odoo.tools import SQL

    seed = env["product.product"].create(
        {
            "name": "Bench product 0",
            "default_code": "BENCH-000000",
            "is_storable": True,
            "categ_id": categories[0].id,
        }
    )
    env.flush_all()
    cr = env.cr
    overrides = {
        "name": SQL("jsonb_build_object('en_US', 'Bench product ' || g)"),
        "default_code": SQL("'BENCH-' || lpad(g::text, 6, '0')"),
        "categ_id": SQL("(%s::int[])[1 + g %% %s]", categories.ids, len(categories)),
    }
    columns = columns_of(cr, "product_template")
    cr.execute(
        SQL(
            "INSERT INTO product_template (%s) SELECT %s FROM product_template t, "
            "generate_series(1, %s) AS g WHERE t.id = %s",
            SQL(", ").join(SQL.identifier(c) for c in columns),
            SQL(", ").join(
                overrides.get(c, SQL("t.%s", SQL.identifier(c))) for c in columns
            ),
            count - 1,
            seed.product_tmpl_id.id,
        )
    )
    overrides = {
        "product_tmpl_id": SQL("t.id"),
        "default_code": SQL("t.default_code"),
    }
    columns = columns_of(cr, "product_product")
    cr.execute(
        SQL(
            "INSERT INTO product_product (%s) SELECT %s FROM product_product v, "
            "product_template t WHERE v.id = %s AND t.default_code LIKE 'BENCH-%%' "
            "AND t.id <> %s",
            SQL(", ").join(SQL.identifier(c) for c in columns),
            SQL(", ").join(
                overrides.get(c, SQL("v.%s", SQL.identifier(c))) for c in columns
            ),
            seed.id,
            seed.product_tmpl_id.id,
        )
    )
    cr.execute(
        "SELECT pp.id FROM product_product pp WHERE pp.default_code LIKE 'BENCH-%%' "
        "ORDER BY pp.id"
    )
    env.invalidate_all()
    return [row[0] for row in cr.fetchall()]


def build_quants(env, warehouses, product_ids, rng):
    """Quants by SQL: ~90 % of the products in each warehouse, 0-200 units,
    a fifth of them partly reserved."""
    cr = env.cr
    cr.execute("SELECT setseed(0.42)")
    for warehouse in warehouses:
        cr.execute(
            """
            INSERT INTO stock_quant (
                product_id, location_id, company_id, quantity, reserved_quantity,
                in_date, inventory_quantity_set, create_uid, create_date,
                write_uid, write_date)
            SELECT p.id, %(location)s, %(company)s, q.qty,
                   CASE WHEN random() < 0.2 THEN floor(random() * q.qty / 10)
                        ELSE 0 END,
                   now(), false, 1, now(), 1, now()
            FROM unnest(%(products)s::int[]) AS p(id),
                 LATERAL (SELECT floor(random() * 201) AS qty) AS q
            WHERE random() < 0.9
            """,
            {
                "location": warehouse.lot_stock_id.id,
                "company": warehouse.company_id.id,
                "products": product_ids,
            },
        )
    cr.commit()
    cr.execute("SELECT count(*) FROM stock_quant")
    return cr.fetchone()[0]


def build_channels(env, warehouses, categories, product_ids, rng):
    """5 channels: shared pools, a hard partition, overrides, caps, packs."""
    wh1, wh2, wh3 = warehouses
    specs = [
        ("Web shop", wh1 | wh2, {"safety_fixed": 2}),
        (
            "Marketplace A",
            warehouses,
            {
                "allocation_mode": "partition",
                "allocation_percent": 60,
                "priority": 1,
                "cap_qty": 500,
            },
        ),
        (
            "Marketplace B",
            warehouses,
            {
                "allocation_mode": "partition",
                "allocation_percent": 50,
                "priority": 2,
                "out_of_stock_threshold": 3,
            },
        ),
        (
            "B2B portal",
            wh3,
            {"basis": "on_hand", "allocation_percent": 80, "pack_size": 6},
        ),
        (
            "Wholesale",
            wh1,
            {"allocation_percent": 50, "safety_percent": 10, "floor_qty": 5},
        ),
    ]
    rules = env["distribution.publish.rule"]
    for name, sources, values in specs:
        backend = env["distribution.backend"].create(
            {
                "name": name,
                "api_base_url": "https://channel.invalid/api",
                "rate_limit_per_second": 0,
            }
        )
        rules |= rules.create(
            {
                "backend_id": backend.id,
                "warehouse_ids": [(6, 0, sources.ids)],
                "active": False,
                **values,
            }
        )
    # overrides: a category on a marketplace, 100 products on the B2B portal
    rules[1].override_ids = [(0, 0, {"categ_id": categories[0].id, "safety_fixed": 4})]
    rules[3].override_ids = [
        (0, 0, {"product_id": product_id, "safety_percent": 20})
        for product_id in rng.sample(product_ids, 100)
    ]
    # Saving an active rule creates and computes its levels at once, one rule
    # at a time; switched on together by SQL instead, the rules get their
    # levels from the measured first compute, all channels in one run.
    env.cr.execute(
        "UPDATE distribution_publish_rule SET active = TRUE WHERE id = ANY(%s)",
        [rules.ids],
    )
    rules.invalidate_recordset(["active"])
    env.cr.commit()
    return rules


# -- the measured things ------------------------------------------------------------


def floor_scan(env, warehouses, cast_first=False):
    """One grouped scan of the quants per warehouse, fetched. ``cast_first``:
    sum float8 rather than numeric, with the engine's work_mem (faster)."""
    from odoo.addons.distribution_stock_publish.engine.query import CATALOG_WORK_MEM

    total = "SUM(q.quantity::float8), SUM(q.reserved_quantity::float8)"
    if not cast_first:
        total = "SUM(q.quantity)::float8, SUM(q.reserved_quantity)::float8"
    rows = 0
    if cast_first:
        env.cr.execute("SELECT set_config('work_mem', %s, TRUE)", [CATALOG_WORK_MEM])
    for warehouse in warehouses:
        env.cr.execute(
            f"""
            SELECT q.product_id, {total}
            FROM stock_quant q
            JOIN stock_location l ON l.id = q.location_id
            WHERE l.parent_path LIKE %s AND l.usage = 'internal'
            GROUP BY q.product_id
            """,
            [warehouse.view_location_id.parent_path + "%"],
        )
        rows += len(env.cr.fetchall())
    if cast_first:
        env.cr.execute("RESET work_mem")
    return rows


def best_of(times, function):
    """The fastest of ``times`` runs (others share this machine): (Measure,
    result, all durations)."""
    runs = []
    for _ in range(times):
        with Measure() as measure:
            result = function()
        runs.append((measure, result))
    fastest = min(runs, key=lambda run: run[0].seconds)
    return fastest[0], fastest[1], [round(m.seconds, 2) for m, _r in runs]


def in_turns(times, *functions):
    """Run the functions in turn, ``times`` rounds; for each, the fastest of
    its runs as :func:`best_of` returns it."""
    runs = [[] for _function in functions]
    for _ in range(times):
        for function, function_runs in zip(functions, runs, strict=True):
            with Measure() as measure:
                result = function()
            function_runs.append((measure, result))
    results = []
    for function_runs in runs:
        fastest = min(function_runs, key=lambda run: run[0].seconds)
        results.append(
            (fastest[0], fastest[1], [round(m.seconds, 2) for m, _r in function_runs])
        )
    return results


def naive_reads(env, rules, sample_ids):
    """free_qty per product per warehouse of each channel, as many
    connectors do; each channel reads with a cold cache, as a job of its own
    would. Odoo 19 reads the warehouse from the ``warehouse_id`` key."""
    reads = 0
    total = 0.0
    for rule in rules:
        env.invalidate_all()
        products = env["product.product"].browse(sample_ids)
        for warehouse in rule.warehouse_ids:
            for product in products.with_context(warehouse_id=warehouse.id):
                total += product.free_qty
                reads += 1
    return reads, total


def moves_done(env, warehouse, product_ids):
    """One unit of each product leaves ``warehouse`` (ORM, one transaction)."""
    customers = env.ref("stock.stock_location_customers")
    moves = env["stock.move"].create(
        [
            {
                "product_id": product_id,
                "product_uom_qty": 1,
                "location_id": warehouse.lot_stock_id.id,
                "location_dest_id": customers.id,
            }
            for product_id in product_ids
        ]
    )
    moves._action_confirm()
    moves._action_assign()
    moves.picked = True
    moves._action_done()
    return moves


def products_with_free_stock(env, warehouse, count, rng):
    env.cr.execute(
        """
        SELECT product_id FROM stock_quant
        WHERE location_id = %s AND quantity - reserved_quantity >= 1
        """,
        [warehouse.lot_stock_id.id],
    )
    candidates = sorted(row[0] for row in env.cr.fetchall())
    return rng.sample(candidates, count)


def incremental(env, registry, warehouse, count, rng):
    """``count`` moves done and committed, then the sweep; returns measures."""
    Level = env["distribution.stock.level"]
    product_ids = products_with_free_stock(env, warehouse, count, rng)
    with Measure() as moving:
        moves_done(env, warehouse, product_ids)
        env.flush_all()
    with Measure() as marking:
        Level._flush_dirty_marks()  # what the commit's precommit hook runs
    env.cr.commit()
    with Measure() as sweeping:
        result = Level.sweep()
        env.flush_all()
    env.cr.commit()
    return moving, marking, sweeping, result


# -- main ----------------------------------------------------------------------------


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="database to use (default: a throwaway one)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop it")
    parser.add_argument("--products", type=int, default=100000)
    parser.add_argument(
        "--orm-products",
        action="store_true",
        help="create the products with the ORM (slow) instead of SQL clones",
    )
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=10000,
        help="products read the naive way (extrapolated to the catalog)",
    )
    return parser.parse_args()


def main():
    args = parse_args()
    throwaway = not args.db
    db = args.db or f"distribution_bench_{secrets.token_hex(4)}"
    env_vars = dict(os.environ)
    if not env_vars.get("DISTRIBUTION_ENCRYPTION_KEYS"):
        from cryptography.fernet import Fernet

        env_vars["DISTRIBUTION_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
        os.environ["DISTRIBUTION_ENCRYPTION_KEYS"] = env_vars[
            "DISTRIBUTION_ENCRYPTION_KEYS"
        ]
    rng = random.Random(42)
    started = time.perf_counter()
    say(f"Stock publishing benchmark: database {db}, {args.products} products")
    try:
        with Measure() as installing:
            install(db, env_vars)
        say(f"install {MODULE} and its dependencies: {installing.seconds:.0f} s")
        run(db, args, rng)
    finally:
        if throwaway and not args.keep_db:
            drop_database(db)
            say(f"database {db} dropped")
    say(f"whole benchmark: {time.perf_counter() - started:.0f} s")


def run(db, args, rng):
    import odoo
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(odoo_args(db))
    registry = Registry(db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        with Measure() as building:
            warehouses, categories, product_ids = build_catalog(
                env, args.products, args.orm_products
            )
        how = f"ORM, batches of {BATCH}" if args.orm_products else "SQL clones"
        say(f"{len(product_ids)} products ({how}): {building}")
        # rules first: the levels are created by the measured cold compute
        rules = build_channels(env, warehouses, categories, product_ids, rng)
        with Measure() as quanting:
            quants = build_quants(env, warehouses, product_ids, rng)
        say(f"{quants} quants in {WAREHOUSES} warehouses (SQL): {quanting}")
        vacuum(db, "stock_quant", "stock_location", "product_product")
        floor_scan(env, warehouses)  # warm PostgreSQL's cache the same for all
        floor_scan(env, warehouses, cast_first=True)
        Level = env["distribution.stock.level"]
        say(f"{len(rules)} channels: " + ", ".join(rules.backend_id.mapped("name")))
        say()

        # (a) the engine: each compute gets a new engine, as the sweep and the
        # rules' "Recompute now" do, so that nothing cached by one run serves
        # the next
        with Measure() as cold:
            engine = Level._stock_publish_engine()
            created = engine.ensure_levels()
            engine.recompute()
        env.cr.commit()
        say(
            f"(a) engine, first full compute ({created} levels created, computed "
            f"and written): {cold}"
        )
        vacuum(db, "distribution_stock_level")

        # (d) the floor and (a) the full recompute, run in turns so that both
        # meet the same load when others share the machine
        (floor, rows, floor_runs), (warm, warm_stats, warm_runs) = in_turns(
            ROUNDS,
            lambda: floor_scan(env, warehouses),
            lambda: Level._stock_publish_engine().recompute(),
        )
        env.cr.commit()
        say(
            f"(d) floor, bare grouped scan per warehouse ({rows} rows), best of "
            f"{floor_runs}: {floor}"
        )
        fast_floor, _rows, fast_runs = best_of(
            3, lambda: floor_scan(env, warehouses, cast_first=True)
        )
        say(
            f"    same, summing float8 with the engine's work_mem, best of "
            f"{fast_runs}: {fast_floor}"
        )
        say(
            f"(a) engine, full recompute ({warm_stats['levels']} levels, "
            f"{warm_stats['written']} written), best of {warm_runs}: {warm}"
        )

        # (b) the naive way
        sample = min(args.naive_sample, len(product_ids))
        sample_ids = sorted(rng.sample(product_ids, sample))
        with Measure() as naive:
            reads, _total = naive_reads(env, rules, sample_ids)
        scale = len(product_ids) / sample
        naive_full = naive.seconds * scale
        env.cr.rollback()
        if scale > 1:
            say(
                f"(b) naive free_qty reads: {reads} reads of {sample} sampled "
                f"products: {naive}"
            )
            say(
                f"    extrapolated linearly to {len(product_ids)} products "
                f"(x{scale:.1f}): {naive_full:.1f} s"
            )
        else:
            say(f"(b) naive free_qty reads ({reads} reads): {naive}")

        # (c) moves done, then the incremental sweep
        env.cr.execute(
            "UPDATE distribution_stock_level SET published_qty = computed_qty, "
            "published_at = now() AT TIME ZONE 'UTC', differs = FALSE"
        )
        env.cr.commit()
        vacuum(db, "distribution_stock_level")  # what autovacuum does next
        say(
            "    (every level then marked published by SQL, as after a first "
            "export, and the table analyzed)"
        )
        incremental_runs = []
        for count in (100, 1000):
            moving, marking, sweeping, result = incremental(
                env, registry, warehouses[0], count, rng
            )
            incremental_runs.append((count, sweeping))
            say(
                f"(c) {count} stock moves done (ORM, reference): "
                f"{moving.seconds:.2f} s; dirty marking at commit: "
                f"{marking.seconds * 1000:.0f} ms"
            )
            say(f"    incremental sweep: {sweeping}")
            say(f"    {result}")

        say()
        say("Ratios")
        for label, measure in (("first", cold), ("full recompute", warm)):
            say(
                f"  engine ({label}) / naive: "
                f"{measure.seconds / naive_full:.4f}   (goal <= 0.03)"
            )
            say(
                f"  engine ({label}) / floor: "
                f"{measure.seconds / floor.seconds:.2f}   (goal <= 3); against the "
                f"float8 scan: {measure.seconds / fast_floor.seconds:.2f}"
            )
        per_sku_full = warm.seconds / len(product_ids) * 1000
        for count, sweeping in incremental_runs:
            say(
                f"  incremental sweep, {count} changed SKUs: "
                f"{sweeping.seconds * 1000 / count:.2f} ms per changed SKU, "
                f"{sweeping.seconds / warm.seconds:.3f} of a full recompute "
                f"({per_sku_full:.4f} ms per catalog SKU)"
            )
    odoo.sql_db.close_db(db)


if __name__ == "__main__":
    main()
