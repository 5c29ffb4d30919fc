from odoo import api, fields, models
from odoo.tools import SQL


class DistributionPublishRuleOverride(models.Model):
    """A safety stock of its own for a product or a product category.

    The most specific wins: a product override, else the override of the
    product's category or of its nearest parent category, else the rule.
    An override replaces both the rule's units and percentage.
    """

    _name = "distribution.publish.rule.override"
    _description = "Safety stock override of a publish rule"
    _order = "rule_id, id"

    rule_id = fields.Many2one(
        "distribution.publish.rule", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="rule_id.company_id", store=True, index=True)
    product_id = fields.Many2one("product.product", ondelete="cascade", index=True)
    categ_id = fields.Many2one(
        "product.category", string="Product category", ondelete="cascade"
    )
    safety_fixed = fields.Float(string="Safety stock (units)")
    safety_percent = fields.Float(string="Safety stock (% of the pool)")

    _one_target = models.Constraint(
        "CHECK((product_id IS NULL) <> (categ_id IS NULL))",
        "An override is for a product or for a category, not both.",
    )
    _product_unique = models.Constraint(
        "UNIQUE(rule_id, product_id)", "A product has one override per rule."
    )
    _categ_unique = models.Constraint(
        "UNIQUE(rule_id, categ_id)", "A category has one override per rule."
    )
    _values_range = models.Constraint(
        "CHECK(safety_fixed >= 0 AND safety_percent >= 0 AND safety_percent <= 100)",
        "Safety stock is positive and its percentage at most 100.",
    )

    @api.depends("product_id", "categ_id")
    def _compute_display_name(self):
        for override in self:
            target = override.product_id or override.categ_id
            override.display_name = target.display_name or ""

    def _affected_product_ids(self):
        """Products whose safety stock this override may decide."""
        product_ids = set(self.product_id.ids)
        categories = self.categ_id
        if categories:
            patterns = [f"{path}%" for path in categories.mapped("parent_path")]
            self.env.cr.execute(
                SQL(
                    """
                    SELECT pp.id
                    FROM product_product pp
                    JOIN product_template pt ON pt.id = pp.product_tmpl_id
                    JOIN product_category c ON c.id = pt.categ_id
                    WHERE c.parent_path LIKE ANY(%s)
                    """,
                    patterns,
                )
            )
            product_ids.update(row[0] for row in self.env.cr.fetchall())
        return product_ids

    def _mark_dirty(self):
        for rule in self.rule_id:
            overrides = self.filtered(lambda o, r=rule: o.rule_id == r)
            rule._mark_dirty(product_ids=sorted(overrides._affected_product_ids()))

    @api.model_create_multi
    def create(self, vals_list):
        overrides = super().create(vals_list)
        overrides._mark_dirty()
        return overrides

    def write(self, vals):
        self._mark_dirty()  # what the override covered before
        res = super().write(vals)
        self._mark_dirty()
        return res

    def unlink(self):
        self._mark_dirty()
        return super().unlink()
