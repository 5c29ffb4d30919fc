"""A channel adapter that sends fulfillments, for tests only.

It speaks the generic JSON adapter's webhooks and sends each shipment as
``POST {api_base_url}/fulfillments`` through the real HTTP client, answered
``{"id": <fulfillment id>}``. ``FulfillmentChannelMixin`` registers it for
the test class only and plays the channel with a local ``FakeServer``.
"""

from odoo.addons.distribution_connector.adapters.generic_json import (
    GenericJsonAdapter,
)
from odoo.addons.distribution_connector.tests.common import use_test_adapter
from odoo.addons.distribution_connector.tests.fake_server import FakeServer

from .common import StockFlowMixin


class FulfillmentTestAdapter(GenericJsonAdapter):
    code = "test_fulfillment"
    label = "Test channel sending fulfillments"

    def export_fulfillment(self, shipment):
        answer = self.http_client().json(
            "POST", "fulfillments", topic="fulfillment", json=shipment
        )
        return {"external_id": answer.get("id") if isinstance(answer, dict) else None}


class FulfillmentChannelMixin(StockFlowMixin):
    @classmethod
    def setUpFulfillmentChannel(cls):
        # the HTTP client logs each call through a cursor of its own
        cls.registry_enter_test_mode_cls()
        cls.setUpStockFlows()
        use_test_adapter(cls, FulfillmentTestAdapter)
        cls.channel = FakeServer().start()
        cls.addClassCleanup(cls.channel.stop)
        cls.backend.write(
            {
                "adapter": FulfillmentTestAdapter.code,
                "api_base_url": cls.channel.url,
                "allow_private_network": True,
                "rate_limit_per_second": 0,
            }
        )

    def setUp(self):
        super().setUp()
        self.channel.requests.clear()
        self.channel.scripts.clear()
        self.channel.handlers.clear()
