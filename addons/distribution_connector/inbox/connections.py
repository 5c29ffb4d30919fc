"""Database connections on which webhooks store their exchanges.

A webhook is answered once its exchange is committed. On the request's own
cursor that costs PostgreSQL more than the row itself: Odoo resets every
connection it lends from its pool (``DISCARD ALL``), which drops every plan
made on it, so each webhook would plan again the statements of the insert
function and the checks of the table's foreign keys (most of what a webhook
costs PostgreSQL, measured in tests/README.md). The connections kept here
are never reset: their plans stay, and a webhook pays for running them only.

Each process keeps its own connections per database: as many as it stores
exchanges at once (one in a prefork worker, one per busy thread in a
threaded server), none inherited from the process it was forked from, and
none idle longer than Odoo keeps its own. They run at PostgreSQL's default
isolation (READ COMMITTED) in autocommit: each query is a transaction of its
own, committed by the server as it ends, so a webhook costs one round trip
where an explicit transaction costs three (BEGIN, the query, COMMIT).
"""

import logging
import os
import threading
import time

import psycopg2
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from odoo import sql_db

_logger = logging.getLogger(__name__)

#: seconds an idle connection is kept (what Odoo's pool keeps its own)
MAX_IDLE = sql_db.MAX_IDLE_TIMEOUT


class InboxConnections:
    """This process's idle connections, per database."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._idle = {}  # dbname -> [(connection, last used)]

    def commit(self, dbname, query):
        """Run ``query`` (``odoo.tools.SQL``, one statement) as a transaction
        of its own and return the rows it returned, once committed.

        When the link of a connection that waited broke (a restarted
        server, a dropped link), the query runs once more on a new one:
        callers pass queries that may run twice (the insert function finds
        the event it stored). Any other error is raised; the server rolled
        the statement back.
        """
        for attempt in (1, 2):
            connection, reused = self._borrow(dbname)
            try:
                with connection.cursor() as cursor:
                    cursor.execute(query.code, query.params)
                    rows = cursor.fetchall()
            except BaseException as err:
                # psycopg2 closes a connection whose link broke
                broken = isinstance(err, psycopg2.Error) and connection.closed
                self._give_back(dbname, connection)
                if not (broken and reused and attempt == 1):
                    raise
                _logger.info("Inbox connection to %s lost: reconnecting", dbname)
                continue
            self._give_back(dbname, connection)
            return rows

    def close_all(self):
        """Close this process's idle connections (tests, shutdown)."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection, _used in connections:
                self._close(connection)

    def _borrow(self, dbname):
        """An idle connection to ``dbname`` and True, else a new one and
        False."""
        now = time.monotonic()
        stale = []
        found = None
        with self._lock:
            if self._pid != os.getpid():
                # forked: the parent's connections are the parent's
                self._pid, self._idle = os.getpid(), {}
            connections = self._idle.get(dbname, [])
            while connections:
                connection, used = connections.pop()
                if connection.closed or now - used > MAX_IDLE:
                    stale.append(connection)
                else:
                    found = connection
                    break
        for connection in stale:
            self._close(connection)
        if found is not None:
            return found, True
        _name, info = sql_db.connection_info_for(dbname)
        connection = psycopg2.connect(**info)
        connection.set_client_encoding("UTF8")
        connection.autocommit = True
        return connection, False

    def _give_back(self, dbname, connection):
        """Keep ``connection`` for the next call if it is idle, outside any
        transaction (an interrupted call may leave it otherwise), else close
        it."""
        if connection.closed:
            return
        if connection.info.transaction_status != TRANSACTION_STATUS_IDLE:
            self._close(connection)
            return
        with self._lock:
            if self._pid == os.getpid():
                self._idle.setdefault(dbname, []).append((connection, time.monotonic()))
                return
        self._close(connection)

    @staticmethod
    def _close(connection):
        try:
            connection.close()
        except psycopg2.Error:
            _logger.debug("Inbox connection already closed", exc_info=True)


#: the connections of this process
connections = InboxConnections()
