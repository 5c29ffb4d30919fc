import os

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.tests.common import (
    KEYS_ENV,
    TEST_KEY,
    encryption_keys,
    load_demo,
)
from odoo.addons.distribution_sync.tests.test_demo_data import SYNC_DEMO

AMAZON_DEMO = (
    "distribution_connector_amazon/demo/distribution_connector_amazon_demo.xml"
)


@tagged("-at_install", "post_install")
class TestDemoData(TransactionCase):
    """The Amazon seller's demo backend: paused, on hosts that never resolve."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.environ.get(KEYS_ENV):
            cls.enterClassContext(encryption_keys(TEST_KEY))
        load_demo(cls.env, SYNC_DEMO, AMAZON_DEMO)

    def test_paused_backend_on_invalid_hosts(self):
        backend = self.env.ref("distribution_connector_amazon.demo_backend_amazon")
        self.assertEqual(backend.adapter, "amazon")
        self.assertTrue(backend.paused)
        self.assertTrue(backend.api_base_url.endswith(".invalid"))
        self.assertIn(".invalid/", backend.amazon_lwa_url)
        self.assertEqual(backend._amazon_marketplace_ids(), ["A1PA6795UKMFR9"])
        self.assertEqual(type(backend._get_adapter()).__name__, "AmazonAdapter")
