"""Test helpers: warehouses, products, stock and channels with rules."""

from odoo.addons.distribution_connector.tests.common import DistributionTestMixin

from ..models.distribution_stock_level_sweep import PENDING_KEY


class StockPublishMixin(DistributionTestMixin):
    """Two warehouses, a category tree and helpers to put stock and rules."""

    @classmethod
    def setUpStockPublish(cls):
        cls.setUpDistribution()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.Level = cls.env["distribution.stock.level"]
        cls.Rule = cls.env["distribution.publish.rule"]
        Warehouse = cls.env["stock.warehouse"]
        cls.wh1 = Warehouse.create({"name": "Publish North", "code": "PNO"})
        cls.wh2 = Warehouse.create({"name": "Publish South", "code": "PSO"})
        cls.categ_root = cls.env["product.category"].create({"name": "Publish goods"})
        cls.categ_mugs = cls.env["product.category"].create(
            {"name": "Publish mugs", "parent_id": cls.categ_root.id}
        )
        cls.mug = cls.make_product("PUB-MUG", cls.categ_mugs)
        cls.plate = cls.make_product("PUB-PLATE", cls.categ_root)

    def setUp(self):
        super().setUp()
        # stock put in place by the class setup is not a change to track
        self.env.cr.precommit.data.pop(PENDING_KEY, None)

    @classmethod
    def make_product(cls, sku, categ=None):
        return cls.env["product.product"].create(
            {
                "name": f"Product {sku}",
                "default_code": sku,
                "is_storable": True,
                "categ_id": (categ or cls.categ_root).id,
            }
        )

    @classmethod
    def put(cls, product, qty, warehouse=None, location=None):
        location = location or (warehouse or cls.wh1).lot_stock_id
        cls.env["stock.quant"]._update_available_quantity(product, location, qty)

    @classmethod
    def reserve(cls, product, qty, warehouse=None):
        location = (warehouse or cls.wh1).lot_stock_id
        cls.env["stock.quant"]._update_reserved_quantity(product, location, qty)

    @classmethod
    def make_channel(cls, name, warehouses=None, **rule_vals):
        """A backend and its publish rule (sources: wh1 by default)."""
        backend = cls.make_backend(name)
        warehouses = cls.wh1 if warehouses is None else warehouses
        rule = cls.env["distribution.publish.rule"].create(
            {
                "backend_id": backend.id,
                "warehouse_ids": [(6, 0, warehouses.ids)],
                **rule_vals,
            }
        )
        return backend, rule

    def recompute(self, **kwargs):
        return self.Level._stock_publish_engine().recompute(**kwargs)

    def level(self, backend, product=None):
        return self.Level.search(
            [
                ("backend_id", "=", backend.id),
                ("product_id", "=", (product or self.mug).id),
            ]
        )

    def qty(self, backend, product=None):
        """The computed quantity after a full recompute."""
        self.recompute()
        return self.level(backend, product).computed_qty

    def steps(self, backend, product=None):
        return [step["step"] for step in self.level(backend, product).explanation]

    def flush_marks(self):
        """What the transaction's commit would do: mark the changed products'
        levels dirty."""
        self.Level._flush_dirty_marks()


def committed_level(env, backend_values, sku):
    """A channel (backend with ``backend_values``) with a publish rule and a
    storable product ``sku``, created in ``env`` (a committed environment):
    the product's level on that channel, created by the rule."""
    backend = env["distribution.backend"].create(backend_values)
    product = env["product.product"].create(
        {"name": f"Product {sku}", "default_code": sku, "is_storable": True}
    )
    # what this transaction's commit would do, before the rule: no channel
    # publishes yet, so the new product marks nothing
    env["distribution.stock.level"]._flush_dirty_marks()
    env["distribution.publish.rule"].create({"backend_id": backend.id})
    # the rule gave the product (sold, without stock) its level
    return env["distribution.stock.level"].search(
        [("product_id", "=", product.id), ("backend_id", "=", backend.id)]
    )


def purge_committed_level(env, backend_id, product_id, since):
    """Remove what ``committed_level`` created, and the stock jobs enqueued
    since ``since``, in ``env`` (a committed environment)."""
    env["queue.job"].search(
        [
            ("model_name", "=", "distribution.stock.level"),
            ("date_created", ">=", since),
        ]
    ).unlink()
    env["distribution.stock.level"].search([("backend_id", "=", backend_id)]).unlink()
    env["distribution.publish.rule"].with_context(active_test=False).search(
        [("backend_id", "=", backend_id)]
    ).unlink()
    env["distribution.backend"].browse(backend_id).unlink()
    env["product.product"].browse(product_id).unlink()
