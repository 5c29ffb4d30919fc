from odoo import fields, models

from odoo.addons.distribution_connector.tools.access import USER_GROUP, check_group

from ..adapters.amazon_feeds import STOCK_TOPICS


class DistributionException(models.Model):
    _inherit = "distribution.exception"

    def action_retry(self):
        """Retrying a SKU Amazon rejected publishes its level again (the
        feed it came in is not sent again: the quantity may have moved)."""
        check_group(self, USER_GROUP)
        rejected = self.filtered(
            lambda exc: (
                exc.state == "open"
                and exc.exchange_id.direction == "out"
                and exc.exchange_id.topic in STOCK_TOPICS
                and exc.stock_level_id
            )
        )
        if rejected:
            rejected.stock_level_id.sudo()._enqueue_exports(
                level_ids=rejected.stock_level_id.ids, force=True
            )
            rejected.sudo().write(
                {"state": "resolved", "resolved_at": fields.Datetime.now()}
            )
            for exc in rejected:
                exc.message_post(body=self.env._("The quantity is published again."))
        return super(DistributionException, self - rejected).action_retry()
