"""The 19.0.1.2.0 migration: HTTP calls logged as exchanges move to the call
log; the messages stay."""

import importlib.util

from odoo.tests.common import TransactionCase, tagged
from odoo.tools.misc import file_path

from .common import DistributionTestMixin

MIGRATION = "distribution_connector/migrations/19.0.1.2.0/post-migrate.py"


def load_migration():
    spec = importlib.util.spec_from_file_location(
        "distribution_connector_call_log_migration", file_path(MIGRATION)
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("-at_install", "post_install")
class TestCallLogMigration(DistributionTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()

    def exchange(self, columns, **vals):
        """An exchange as the previous version stored it, with the columns
        of the fields it no longer has."""
        exchange = self.env["distribution.exchange"].create(
            {
                "backend_id": self.backend.id,
                "external_event_id": f"migrated-{vals.get('kind')}",
                **vals,
            }
        )
        exchange.flush_recordset()
        self.env.cr.execute(
            "UPDATE distribution_exchange SET call_log = %s, response_status = %s, "
            "duration_ms = %s WHERE id = %s",
            [*columns, exchange.id],
        )
        return exchange

    def test_http_calls_move_and_messages_stay(self):
        # the columns of the previous version (gone from the model)
        self.env.cr.execute(
            "ALTER TABLE distribution_exchange ADD COLUMN call_log boolean, "
            "ADD COLUMN response_status integer, ADD COLUMN duration_ms integer"
        )
        call = self.exchange(
            (True, 422, 35),
            direction="out",
            topic="stock",
            kind="POST /api/stock",
            raw_body='{"items": []}',
            response_body='{"error": "bad"}',
            state="error",
            error="POST https://shop/api/stock: HTTP 422 Unprocessable Content",
        )
        export = self.exchange(
            (True, None, 40),
            direction="out",
            topic="stock",
            kind="stock export",
            raw_body='{"items": []}',
            state="done",
        )
        report = self.exchange(
            (True, None, None), direction="in", topic="stock_check", kind="stock_check"
        )
        message = self.exchange(
            (False, None, None), direction="out", topic="fulfillment", kind="shipment"
        )
        call_error = call.error
        migration = load_migration()
        migration.migrate(self.env.cr, "19.0.1.1.0")
        self.env.invalidate_all()

        self.assertFalse((call | export).exists())
        self.assertEqual((report | message).exists(), report | message)
        logs = self.env["distribution.call.log"].search(
            [("backend_id", "=", self.backend.id)], order="id"
        )
        self.assertRecordValues(
            logs,
            [
                {
                    "topic": "stock",
                    "method": "POST",
                    "path": "/api/stock",
                    "request_body": '{"items": []}',
                    "response_status": 422,
                    "response_body": '{"error": "bad"}',
                    "duration_ms": 35,
                    "state": "error",
                    "error": call_error,
                    "company_id": self.backend.company_id.id,
                },
                {
                    "topic": "stock",
                    "method": False,
                    "path": False,
                    "request_body": '{"items": []}',
                    "response_status": 0,
                    "response_body": False,
                    "duration_ms": 40,
                    "state": "done",
                    "error": False,
                    "company_id": self.backend.company_id.id,
                },
            ],
        )
        # a second run finds nothing left to move
        self.assertEqual(migration.move_call_logs(self.env.cr), 0)

    def test_new_databases_have_nothing_to_move(self):
        migration = load_migration()
        migration.migrate(self.env.cr, "19.0.1.1.0")
        migration.migrate(self.env.cr, None)
