"""What the adapter addons' tests share: a channel's own warehouse published
through the channel's adapter, and a channel's demo loaded with the demos it
builds on."""

import os

from odoo.addons.distribution_connector.tests.common import (
    KEYS_ENV,
    TEST_KEY,
    encryption_keys,
    load_demo,
)
from odoo.addons.distribution_sync.tests.test_demo_data import (
    SYNC_DEMO,
    exchanges_by_state,
    open_exceptions_by_type,
)
from odoo.addons.queue_job.tests.common import trap_jobs

from .test_demo_data import STOCK_PUBLISH_DEMO

__all__ = [
    "ChannelDemoMixin",
    "PublishChannelMixin",
    "exchanges_by_state",
    "open_exceptions_by_type",
]


class PublishChannelMixin:
    """Products stocked in a warehouse of their own, published to the
    channel's backend (``cls.backend`` of ``setUpChannel``); the sweep and
    its export jobs run as the job runner runs them."""

    #: (name, code) of the channel's warehouse
    publish_warehouse = None
    #: class attribute -> (product name, SKU, quantity in the warehouse)
    publish_stock = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpChannel()
        cls.setUpPublishChannel()

    @classmethod
    def setUpPublishChannel(cls):
        """The warehouse, its products (each set as its class attribute, all
        in ``cls.published_products``), the backend publishing it."""
        cls.Level = cls.env["distribution.stock.level"]
        name, code = cls.publish_warehouse
        cls.warehouse = cls.env["stock.warehouse"].create({"name": name, "code": code})
        cls.location = cls.warehouse.lot_stock_id
        cls.published_products = cls.env["product.product"]
        for attribute, (product_name, sku, quantity) in cls.publish_stock.items():
            product = cls.env["product.product"].create(
                {"name": product_name, "default_code": sku, "is_storable": True}
            )
            cls.env["stock.quant"]._update_available_quantity(
                product, cls.location, quantity
            )
            setattr(cls, attribute, product)
            cls.published_products |= product
        cls.env["distribution.publish.rule"].create(
            {"backend_id": cls.backend.id, "warehouse_ids": [(6, 0, cls.warehouse.ids)]}
        )

    def level(self, product):
        return self.Level.search(
            [("backend_id", "=", self.backend.id), ("product_id", "=", product.id)]
        )

    def publish(self, references=None):
        """Sweep, give the levels their channel references (``{product:
        external_ref}``), run the export jobs; return what they returned."""
        with trap_jobs() as trap:
            self.Level.sweep()
            for product, reference in (references or {}).items():
                self.level(product).external_ref = reference
            return [
                job.perform()
                for job in trap.enqueued_jobs
                if job.method_name == "export_batch"
            ]


class ChannelDemoMixin:
    """A channel's demo, loaded with the demos it builds on (the test
    database has no demo data)."""

    @classmethod
    def setUpChannelDemo(cls, demo_file):
        if not os.environ.get(KEYS_ENV):
            cls.enterClassContext(encryption_keys(TEST_KEY))
        load_demo(cls.env, SYNC_DEMO, STOCK_PUBLISH_DEMO, demo_file)
