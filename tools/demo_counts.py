#!/usr/bin/env python3
"""Print what a Distribution Sync database holds, part by part.

    python3 tools/demo_counts.py --db distribution_demo

Backends per adapter, publish rules and what they use, stock levels (and
how many are explained), channel orders, exchanges by state, exceptions by
type, settlements. Made to check the demo database of ``make run``, which
should show every part of the product; any database of the suite works.
Reads PostgreSQL directly (read-only): ``PGHOST`` (127.0.0.1), ``PGPORT``
(5432) and ``PGUSER`` (odoo) as the other scripts.
"""

import argparse
import os
import sys

import psycopg2

SECTIONS = [
    (
        "Backends per adapter",
        """
        SELECT adapter, COUNT(*),
               COUNT(*) FILTER (WHERE paused) AS paused
        FROM distribution_backend WHERE active
        GROUP BY adapter ORDER BY adapter
        """,
        "{0}: {1} ({2} paused)",
    ),
    (
        "Publish rules",
        """
        SELECT COUNT(*),
               COUNT(*) FILTER (WHERE safety_fixed > 0 OR safety_percent > 0
                                OR EXISTS (SELECT 1 FROM
                                           distribution_publish_rule_override o
                                           WHERE o.rule_id = r.id)),
               COUNT(*) FILTER (WHERE allocation_mode = 'shared'),
               COUNT(*) FILTER (WHERE allocation_mode = 'partition'),
               COUNT(*) FILTER (WHERE cap_qty > 0),
               (SELECT COUNT(*) FROM distribution_publish_rule_override)
        FROM distribution_publish_rule r WHERE active
        """,
        "{0} rules: {1} with safety stock, {2} shared pool, {3} hard "
        "partition, {4} with a cap; safety stock overrides: {5}",
    ),
    (
        "Stock levels by channel",
        """
        SELECT b.name, COUNT(*),
               COUNT(*) FILTER (WHERE l.state = 'clean'),
               COUNT(*) FILTER (WHERE l.state = 'dirty'),
               COUNT(*) FILTER (WHERE l.state = 'exporting'),
               COUNT(*) FILTER (WHERE l.state = 'error'),
               COUNT(*) FILTER (WHERE jsonb_array_length(
                   COALESCE(l.explanation, '[]'::jsonb)) > 0),
               COUNT(*) FILTER (WHERE l.published_at IS NOT NULL)
        FROM distribution_stock_level l
        JOIN distribution_backend b ON b.id = l.backend_id
        GROUP BY b.name ORDER BY b.name
        """,
        "{0}: {1} levels ({2} clean, {3} dirty, {4} exporting, {5} error), "
        "{6} explained, {7} published",
    ),
    (
        "Channel orders",
        """
        SELECT b.name, COUNT(*),
               COUNT(*) FILTER (WHERE o.state = 'sale'),
               COUNT(*) FILTER (WHERE o.state = 'cancel'),
               COUNT(*) FILTER (WHERE o.state IN ('draft', 'sent'))
        FROM sale_order o
        JOIN distribution_backend b ON b.id = o.distribution_backend_id
        GROUP BY b.name ORDER BY b.name
        """,
        "{0}: {1} orders ({2} confirmed, {3} cancelled, {4} quotations)",
    ),
    (
        "Exchanges by state",
        """
        SELECT state, COUNT(*),
               COUNT(*) FILTER (WHERE direction = 'in'),
               COUNT(*) FILTER (WHERE direction = 'out'),
               SUM(COALESCE(duplicate_count, 0))
        FROM distribution_exchange WHERE call_log IS NOT TRUE
        GROUP BY state ORDER BY state
        """,
        "{0}: {1} ({2} in, {3} out; {4} duplicate deliveries collapsed)",
    ),
    (
        "Exceptions by type",
        """
        SELECT type, COUNT(*),
               COUNT(*) FILTER (WHERE state = 'open'),
               COUNT(*) FILTER (WHERE state = 'ignored'),
               COUNT(*) FILTER (WHERE state = 'resolved')
        FROM distribution_exception
        GROUP BY type ORDER BY type
        """,
        "{0}: {1} ({2} open, {3} ignored, {4} resolved)",
    ),
    (
        "Settlements",
        """
        SELECT s.name, s.state, COUNT(l.id),
               COUNT(l.id) FILTER (WHERE l.match_state IN ('matched', 'fee')),
               s.payout_amount
        FROM distribution_settlement s
        LEFT JOIN distribution_settlement_line l ON l.settlement_id = s.id
        GROUP BY s.id ORDER BY s.id
        """,
        "{0}: {1}, {2} lines ({3} matched), payout {4}",
    ),
]


def main():
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=env.get("DISTRIBUTION_DB", "distribution_demo"))
    options = parser.parse_args()
    try:
        connection = psycopg2.connect(
            dbname=options.db,
            host=env.get("PGHOST", "127.0.0.1"),
            port=env.get("PGPORT", "5432"),
            user=env.get("PGUSER", "odoo"),
            connect_timeout=10,
        )
    except psycopg2.Error as err:
        sys.exit(f"Cannot connect to database {options.db}: {err}")
    connection.set_session(readonly=True)
    with connection, connection.cursor() as cr:
        print(f"Database {options.db}")
        for title, query, line in SECTIONS:
            cr.execute(query)
            rows = cr.fetchall()
            print(f"\n{title}:")
            if not rows:
                print("  none")
            for row in rows:
                print("  " + line.format(*row))
    connection.close()


if __name__ == "__main__":
    main()
