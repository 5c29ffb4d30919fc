from odoo import api, fields, models
from odoo.exceptions import UserError


class DistributionSkuMapping(models.TransientModel):
    """Map a channel SKU to a product from the review queue, and replay the
    exceptions that waited on it.

    The mapping is a product binding of the backend; when the product has no
    internal reference yet, the SKU may become its internal reference
    instead, which maps it for every backend.
    """

    _name = "distribution.sku.mapping"
    _description = "Map a channel SKU to a product"

    backend_id = fields.Many2one("distribution.backend", required=True)
    sku = fields.Char(string="Channel SKU", required=True)
    product_id = fields.Many2one(
        "product.product",
        required=True,
        domain="[('type', '!=', 'service')]",
    )
    target = fields.Selection(
        [
            ("binding", "SKU mapping of this backend"),
            ("default_code", "Internal reference of the product"),
        ],
        string="Map as",
        required=True,
        default="binding",
    )
    replay = fields.Boolean(
        string="Replay the waiting exceptions",
        default=True,
        help="Process again every open exception waiting on this SKU, once each.",
    )
    waiting_count = fields.Integer(compute="_compute_waiting_count")

    @api.depends("backend_id", "sku", "target")
    def _compute_waiting_count(self):
        for wizard in self:
            wizard.waiting_count = len(wizard._waiting())

    def _waiting(self):
        self.ensure_one()
        if not self.sku:
            return self.env["distribution.exception"]
        backend = self.backend_id if self.target == "binding" else None
        return self.env["distribution.exception"]._waiting_on(
            "unknown_sku", [self.sku], backend=backend
        )

    def action_apply(self):
        self.ensure_one()
        if self.target == "default_code":
            self._map_as_default_code()
        else:
            self._map_as_binding()
        if not self.replay:
            return {"type": "ir.actions.act_window_close"}
        return self._waiting()._replay()

    def _map_as_binding(self):
        bindings = self.env["distribution.binding"]
        binding = bindings._find(self.backend_id, "product.product", self.sku)
        if binding and binding.res_id != self.product_id.id:
            raise UserError(
                self.env._(
                    "SKU %(sku)s of %(backend)s is already mapped to %(product)s: "
                    "change that mapping under Mappings instead.",
                    sku=self.sku,
                    backend=self.backend_id.name,
                    product=binding._record().display_name,
                )
            )
        if not binding:
            bindings.create(
                {
                    "backend_id": self.backend_id.id,
                    "res_model": "product.product",
                    "res_id": self.product_id.id,
                    "external_id": self.sku,
                }
            )

    def _map_as_default_code(self):
        product = self.product_id
        if product.default_code and product.default_code != self.sku:
            raise UserError(
                self.env._(
                    "%(product)s already has the internal reference %(code)s: map "
                    "the SKU for this backend instead.",
                    product=product.display_name,
                    code=product.default_code,
                )
            )
        product.default_code = self.sku
