"""The PL/pgSQL function storing inbound exchanges (``insert_inbound.sql``)."""

from odoo.tools import file_open

SQL_FILE = "distribution_connector/inbox/insert_inbound.sql"


def create_insert_function(cr):
    """(Re)create the function from ``insert_inbound.sql``.

    Dropped first: ``CREATE OR REPLACE`` cannot change a function's result
    type (its OUT parameters), so a database holding a function of another
    shape gets the one of the installed code.
    """
    drop_insert_function(cr)
    with file_open(SQL_FILE) as sql_file:
        cr.execute(sql_file.read())


def drop_insert_function(cr):
    cr.execute("DROP FUNCTION IF EXISTS distribution_exchange_insert_inbound")
