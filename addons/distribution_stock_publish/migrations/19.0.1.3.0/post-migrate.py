"""The levels' table is laid out for the sweep.

The unique index of the product and the backend now leads with the product
and serves the look-ups by product: the index of the product alone is
dropped (Odoo keeps the index of a field that no longer declares one). The
levels' table gets its fillfactor from ``init()``; its pages fill up to it
as levels are written again.
"""

from odoo.tools import SQL


def migrate(cr, version):
    if not version:
        return
    cr.execute(SQL("DROP INDEX IF EXISTS distribution_stock_level__product_id_index"))
