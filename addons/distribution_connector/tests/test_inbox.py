"""Webhooks store their exchanges on connections kept for it
(``tools/inbox.py``), committed before the answer.

Tests run every request inside the test's transaction, where the request's
cursor stores the exchange; these tests take the webhook's own path, on
data committed for real (deleted again in a cleanup).
"""

from unittest.mock import patch

import psycopg2

from odoo import modules
from odoo.tests.common import TransactionCase, tagged
from odoo.tools import SQL

from ..tools import inbox
from ..tools.inbox import InboxConnections
from .common import DistributionTestMixin, commit_backend, committed_env

PID = SQL("SELECT pg_backend_pid()")


@tagged("-at_install", "post_install")
class TestInbox(DistributionTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()

    def setUp(self):
        super().setUp()
        self.backend_id = commit_backend(self, "Inbox channel")
        self.connections = InboxConnections()
        self.addCleanup(self.connections.close_all)

    def dispatcher_key(self):
        return self.env["distribution.exchange"]._dispatcher_identity_key(
            self.env["distribution.backend"].browse(self.backend_id)
        )

    def pid(self):
        [(pid,)] = self.connections.commit(self.env.cr.dbname, PID)
        return pid

    def receive(self, env, event_id):
        """What the webhook route stores, outside the test's transaction."""
        with patch.object(modules.module, "current_test", False):
            return env["distribution.exchange"]._insert_inbound(
                env["distribution.backend"].browse(self.backend_id),
                "order", "order", event_id, "INBOX-1", b'{"external_id": "INBOX-1"}',
                "application/json", {},
                committed=True,
            )  # fmt: skip

    def test_webhook_exchange_is_committed_before_the_caller_commits(self):
        self.addCleanup(inbox.connections.close_all)
        with committed_env(self.registry) as env:
            exchange, created = self.receive(env, "inbox-evt-1")
            self.assertTrue(created)
            # stored on another connection: committed already, seen by others
            with committed_env(self.registry) as other:
                stored = other["distribution.exchange"].browse(exchange.id)
                self.assertEqual(stored.external_event_id, "inbox-evt-1")
                self.assertEqual(stored.state, "received")
            # the caller's transaction enqueued the dispatcher
            dispatcher = [("identity_key", "=", self.dispatcher_key())]
            self.assertEqual(env["queue.job"].search_count(dispatcher), 1)
            env.cr.rollback()
        with committed_env(self.registry) as env:
            # the caller's rollback took its dispatcher, not the exchange
            self.assertTrue(env["distribution.exchange"].browse(exchange.id).exists())
            again, created = self.receive(env, "inbox-evt-1")
            self.assertEqual((again, created), (exchange, False))
            self.assertFalse(
                env["queue.job"].search_count(dispatcher),
                "a redelivery enqueues nothing",
            )
        with committed_env(self.registry) as env:
            # counted in the same commit, after the caller's snapshot
            exchange = env["distribution.exchange"].browse(exchange.id)
            self.assertEqual(exchange.duplicate_count, 1)

    def test_connection_is_kept_between_calls(self):
        first = self.pid()
        self.assertEqual(self.pid(), first)
        self.assertNotEqual(first, self.env.cr.connection.get_backend_pid())

    def test_failed_statement_rolls_back_and_keeps_the_connection(self):
        first = self.pid()
        missing = SQL("SELECT id FROM distribution_backend WHERE id = 1 / 0")
        with self.assertRaises(psycopg2.errors.DivisionByZero):
            self.connections.commit(self.env.cr.dbname, missing)
        # rolled back: the same connection answers the next statement
        self.assertEqual(self.pid(), first)

    def test_connection_left_in_a_transaction_is_not_kept(self):
        first = self.pid()
        # a query that opens a transaction and leaves it open
        left_open = SQL("BEGIN; SELECT pg_backend_pid()")
        self.assertEqual(
            self.connections.commit(self.env.cr.dbname, left_open), [(first,)]
        )
        self.assertNotEqual(self.pid(), first)

    def test_broken_connection_is_replaced(self):
        first = self.pid()
        with committed_env(self.registry) as env:
            env.cr.execute("SELECT pg_terminate_backend(%s)", [first])
        second = self.pid()
        self.assertNotEqual(second, first)
        self.assertEqual(self.pid(), second)

    def test_forked_process_opens_its_own_connections(self):
        first = self.pid()
        # what a process forked after the first call sees: another pid
        with patch("os.getpid", return_value=-1):
            self.assertNotEqual(self.pid(), first)
