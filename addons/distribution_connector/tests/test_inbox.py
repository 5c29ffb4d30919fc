"""Webhooks store their exchanges on connections kept for it
(``inbox/connections.py``), committed before the answer.

Tests run every request inside the test's transaction, where the request's
cursor stores the exchange; these tests take the webhook's own path, on
data committed for real (deleted again in a cleanup).
"""

import threading
from unittest.mock import patch

import psycopg2

from odoo import modules
from odoo.tests.common import TransactionCase, tagged
from odoo.tools import SQL

from .. import inbox
from ..inbox import InboxConnections
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
            return self.store(env, event_id)

    def store(self, env, event_id):
        """``receive`` without its own patch: for threads, whose patches
        of one module attribute would undo each other."""
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

    def test_webhook_exchange_survives_a_lost_kept_connection(self):
        """The kept connection of a webhook is cut (a restarted server):
        the next webhook stores its exchange on a new one, and a redelivery
        still finds the event stored before."""
        self.addCleanup(inbox.connections.close_all)
        with committed_env(self.registry) as env:
            first, created = self.receive(env, "inbox-evt-lost")
            self.assertTrue(created)
            [(kept_pid,)] = inbox.connections.commit(env.cr.dbname, PID)
        with committed_env(self.registry) as env:
            env.cr.execute("SELECT pg_terminate_backend(%s)", [kept_pid])
        with committed_env(self.registry) as env:
            again, created = self.receive(env, "inbox-evt-lost")
            self.assertEqual((again, created), (first, False))
            second, created = self.receive(env, "inbox-evt-after")
            self.assertTrue(created)
            [(new_pid,)] = inbox.connections.commit(env.cr.dbname, PID)
            self.assertNotEqual(new_pid, kept_pid)
        with committed_env(self.registry) as env:
            exchanges = env["distribution.exchange"].search(
                [("backend_id", "=", self.backend_id)]
            )
            self.assertEqual(exchanges, first | second)
            self.assertEqual(first.with_env(env).duplicate_count, 1)

    def test_racing_first_deliveries_store_one_exchange(self):
        """Two webhooks of one event at once, each on its own kept
        connection and its own committed transaction: one stores the
        exchange, the other finds it."""
        self.addCleanup(inbox.connections.close_all)
        barrier = threading.Barrier(2, timeout=30)
        results, errors = [], []

        def deliver():
            try:
                with committed_env(self.registry) as env:
                    barrier.wait()
                    exchange, created = self.store(env, "inbox-evt-race")
                    results.append((exchange.id, created))
            except Exception as err:
                errors.append(err)

        threads = [threading.Thread(target=deliver) for _i in range(2)]
        with patch.object(modules.module, "current_test", False):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        self.assertFalse(errors)
        self.assertEqual(len(results), 2)
        self.assertEqual(len({exchange_id for exchange_id, _c in results}), 1)
        self.assertEqual(sorted(created for _id, created in results), [False, True])
        with committed_env(self.registry) as env:
            stored = env["distribution.exchange"].search(
                [("backend_id", "=", self.backend_id)]
            )
            self.assertEqual(stored.ids, [results[0][0]])
            self.assertEqual(stored.duplicate_count, 1)
            # one dispatcher, enqueued by the delivery that stored it
            dispatcher = [("identity_key", "=", self.dispatcher_key())]
            self.assertEqual(env["queue.job"].search_count(dispatcher), 1)

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
