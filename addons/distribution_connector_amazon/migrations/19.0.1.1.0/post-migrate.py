"""Marketplaces were one comma-separated field with one fulfillment channel
for the backend: each becomes a marketplace line with that channel."""

from odoo.tools.sql import column_exists


def migrate(cr, version):
    if not column_exists(cr, "distribution_backend", "amazon_marketplace_ids"):
        return
    cr.execute(
        """
        SELECT id, amazon_marketplace_ids,
               COALESCE(amazon_fulfillment_channel, 'mfn')
        FROM distribution_backend
        WHERE adapter = 'amazon' AND amazon_marketplace_ids IS NOT NULL
        """
        if column_exists(cr, "distribution_backend", "amazon_fulfillment_channel")
        else """
        SELECT id, amazon_marketplace_ids, 'mfn'
        FROM distribution_backend
        WHERE adapter = 'amazon' AND amazon_marketplace_ids IS NOT NULL
        """
    )
    for backend_id, codes, channel in cr.fetchall():
        for sequence, code in enumerate(c.strip() for c in codes.split(",")):
            if code:
                cr.execute(
                    """
                    INSERT INTO distribution_amazon_marketplace
                        (backend_id, sequence, marketplace_id, fulfillment_channel)
                    VALUES (%s, %s, %s, %s)
                    ON CONFLICT DO NOTHING
                    """,
                    (backend_id, sequence, code, channel),
                )
