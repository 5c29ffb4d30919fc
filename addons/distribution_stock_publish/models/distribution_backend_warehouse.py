from odoo import api, models


class DistributionBackendWarehouse(models.Model):
    _inherit = "distribution.backend.warehouse"

    @api.constrains("backend_id", "warehouse_id")
    def _check_partition_sources(self):
        """A rule without sources takes its backend's warehouses: a change
        of them may make two hard partitions overlap."""
        self.backend_id._check_publish_rule_partitions()

    def unlink(self):
        backends = self.backend_id
        res = super().unlink()
        backends._check_publish_rule_partitions()
        return res
