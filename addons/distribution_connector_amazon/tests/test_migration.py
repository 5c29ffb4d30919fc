"""The 19.0.1.1.0 migration: the backend's comma-separated marketplaces and
its one fulfillment setting become marketplace lines."""

import importlib.util

from odoo.tests.common import TransactionCase, tagged
from odoo.tools.misc import file_path

MIGRATION = "distribution_connector_amazon/migrations/19.0.1.1.0/post-migrate.py"


def load_migration():
    spec = importlib.util.spec_from_file_location(
        "distribution_connector_amazon_marketplace_migration", file_path(MIGRATION)
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("-at_install", "post_install")
class TestMarketplaceMigration(TransactionCase):
    def test_marketplaces_become_lines_with_the_backend_setting(self):
        backend = self.env["distribution.backend"].create(
            {"name": "Amazon before", "adapter": "amazon"}
        )
        backend.flush_recordset()
        cr = self.env.cr
        # the columns of the previous version (DDL is undone with the test)
        cr.execute(
            "ALTER TABLE distribution_backend "
            "ADD COLUMN amazon_marketplace_ids varchar, "
            "ADD COLUMN amazon_fulfillment_channel varchar"
        )
        cr.execute(
            "UPDATE distribution_backend SET amazon_marketplace_ids = %s, "
            "amazon_fulfillment_channel = 'mfn' WHERE id = %s",
            ("A1PA6795UKMFR9, A13V1IB3VIYZZH,", backend.id),
        )
        load_migration().migrate(cr, "19.0.1.0.0")
        # run twice (a migration replayed): no line twice
        load_migration().migrate(cr, "19.0.1.0.0")
        backend.invalidate_recordset()
        self.assertEqual(
            [
                (line.marketplace_id, line.fulfillment_channel)
                for line in backend.amazon_marketplace_line_ids
            ],
            [("A1PA6795UKMFR9", "mfn"), ("A13V1IB3VIYZZH", "mfn")],
        )
        self.assertEqual(
            backend._amazon_marketplace_ids("mfn"), ["A1PA6795UKMFR9", "A13V1IB3VIYZZH"]
        )
        self.assertEqual(backend._amazon_marketplace_ids("afn"), [])
