from odoo import fields, models


class DistributionBackendWarehouse(models.Model):
    """A warehouse serving a backend, with its routing preference."""

    _name = "distribution.backend.warehouse"
    _description = "Warehouse serving a distribution backend"
    _order = "backend_id, sequence, id"

    backend_id = fields.Many2one(
        "distribution.backend", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    warehouse_id = fields.Many2one(
        "stock.warehouse",
        required=True,
        ondelete="restrict",
        check_company=True,
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)

    _backend_warehouse_unique = models.Constraint(
        "UNIQUE(backend_id, warehouse_id)",
        "A warehouse is listed once per backend.",
    )
