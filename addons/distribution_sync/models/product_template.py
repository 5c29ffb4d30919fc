from odoo import fields, models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    distribution_waiting_count = fields.Integer(
        string="Waiting exceptions",
        compute="_compute_distribution_waiting_count",
        groups="distribution_connector.group_distribution_user",
        help="Open unknown-SKU exceptions waiting on one of the SKUs of this "
        "product (internal references and SKU mappings of its variants).",
    )

    def _distribution_waiting_exceptions(self):
        """Open unknown-SKU exceptions that the SKUs of these products now
        answer: their internal references (any backend) and their SKU
        mappings (the mapping's backend)."""
        exceptions = self.env["distribution.exception"]
        variants = self.with_context(active_test=False).product_variant_ids
        codes = [code for code in variants.mapped("default_code") if code]
        waiting = exceptions._waiting_on("unknown_sku", codes) if codes else exceptions
        bindings = self.env["distribution.binding"].search(
            [("res_model", "=", "product.product"), ("res_id", "in", variants.ids)]
        )
        return waiting | bindings._waiting_exceptions()

    def _compute_distribution_waiting_count(self):
        for template in self:
            template.distribution_waiting_count = (
                len(template._distribution_waiting_exceptions()) if template.id else 0
            )

    def action_view_distribution_waiting(self):
        self.ensure_one()
        exceptions = self._distribution_waiting_exceptions()
        return exceptions._list_action([("id", "in", exceptions.ids)])

    def action_replay_distribution_waiting(self):
        self.ensure_one()
        return self._distribution_waiting_exceptions()._replay()
