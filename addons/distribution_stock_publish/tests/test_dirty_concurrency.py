"""Dirty marks of concurrent transactions, on committed data.

Imports of orders for the same products run at once: each marks its
products just before it commits. A transaction that updated a level another
one updated since it began would fail with a serialization failure
(queue_job would run the whole import again): the marks go to an
insert-only table instead, never to the levels' rows, and are not lost (the
level would keep a number that does not count the change).
"""

from datetime import timedelta

from odoo import fields
from odoo.tests.common import TransactionCase, tagged
from odoo.tools import SQL

from odoo.addons.distribution_connector.tests.common import committed_env

from ..models.distribution_stock_level_sweep import MARK_TABLE
from .common import committed_level, purge_committed_level

#: a channel that is never called: only its levels matter here
CHANNEL = {"name": "Concurrent marks channel", "rate_limit_per_second": 0}
CHANNEL["api_base_url"] = "https://channel.invalid/api"


@tagged("-at_install", "post_install")
class TestConcurrentDirtyMarks(TransactionCase):
    def setUp(self):
        super().setUp()
        self.started = fields.Datetime.now() - timedelta(seconds=1)
        with committed_env(self.registry) as env:
            level = committed_level(env, CHANNEL, "CONCURRENT-MUG")
            self.ids = (level.backend_id.id, level.product_id.id, level.id)
        self.addCleanup(self.purge)

    def purge(self):
        backend_id, product_id, _level_id = self.ids
        with committed_env(self.registry) as env:
            env.cr.execute(
                SQL(
                    "DELETE FROM %s WHERE product_id = %s",
                    SQL.identifier(MARK_TABLE),
                    product_id,
                )
            )
            purge_committed_level(env, backend_id, product_id, self.started)

    def marks(self, env):
        env.cr.execute(SQL("SELECT product_id FROM %s", SQL.identifier(MARK_TABLE)))
        return [row[0] for row in env.cr.fetchall()]

    def test_a_level_updated_meanwhile_is_marked_for_the_next_sweep(self):
        _backend_id, product_id, level_id = self.ids
        with committed_env(self.registry) as late:
            # this transaction's snapshot is taken here
            late.cr.execute(
                "SELECT state FROM distribution_stock_level WHERE id = %s", [level_id]
            )
            with committed_env(self.registry) as sweep:
                # a sweep cleans the level meanwhile, without this change
                sweep.cr.execute(
                    "UPDATE distribution_stock_level SET state = 'published'"
                    " WHERE id = %s",
                    [level_id],
                )
            levels = late["distribution.stock.level"]
            levels._mark_products_dirty([product_id])
            # what the commit runs: no error, the product is recorded
            levels._flush_dirty_marks()
            self.assertIn(product_id, self.marks(late))
        with committed_env(self.registry) as env:
            level = env["distribution.stock.level"].browse(level_id)
            self.assertEqual(level.state, "published")
            self.assertTrue(level.to_recompute)
            # the next sweep takes the mark, in a transaction that sees it
            self.assertIn(product_id, env["distribution.stock.level"]._take_marks([]))
            self.assertNotIn(product_id, self.marks(env))

    def test_a_mark_never_writes_the_levels(self):
        _backend_id, product_id, level_id = self.ids
        with committed_env(self.registry) as env:
            env.cr.execute(
                "UPDATE distribution_stock_level SET state = 'published' WHERE id = %s",
                [level_id],
            )
        with committed_env(self.registry) as env:
            row = SQL(
                "SELECT state, xmin::text FROM distribution_stock_level WHERE id = %s",
                level_id,
            )
            env.cr.execute(row)
            before = env.cr.fetchone()
            levels = env["distribution.stock.level"]
            levels._mark_products_dirty([product_id])
            levels._flush_dirty_marks()
            # the row is left as it is: no new version, no lock, no conflict
            env.cr.execute(row)
            self.assertEqual(env.cr.fetchone(), before)
            self.assertEqual(before[0], "published")
            self.assertIn(product_id, self.marks(env))
