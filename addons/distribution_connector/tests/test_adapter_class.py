"""The backend's adapter comes from ``_get_adapter_class()``, which adapter
addons extend with ``_inherit``."""

from odoo.exceptions import ValidationError
from odoo.tests.common import TransactionCase

from ..adapters.generic_json import GenericJsonAdapter
from ..errors import PermanentError
from .common import DistributionTestMixin


class TracingAdapter(GenericJsonAdapter):
    """What an addon's extension returns instead."""


class TestAdapterClass(DistributionTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()

    def test_generic_json_backend_gets_the_generic_json_adapter(self):
        self.assertIs(self.backend._get_adapter_class(), GenericJsonAdapter)
        adapter = self.backend._get_adapter()
        self.assertIs(type(adapter), GenericJsonAdapter)
        self.assertEqual(adapter.backend, self.backend)

    def test_extension_of_the_hook_is_honored(self):
        model_class = type(self.env["distribution.backend"])
        original = model_class._get_adapter_class

        def _get_adapter_class(backend):
            # an addon's override: its class for generic JSON backends
            if backend.adapter == "generic_json":
                return TracingAdapter
            return original(backend)

        self.patch(model_class, "_get_adapter_class", _get_adapter_class)
        adapter = self.backend._get_adapter()
        self.assertIs(type(adapter), TracingAdapter)
        self.assertIs(type(self.backend._http_client()), adapter.http_client_class)

    def test_backend_without_an_adapter_class_is_refused(self):
        model_class = type(self.env["distribution.backend"])
        self.patch(model_class, "_get_adapter_class", lambda backend: None)
        with self.assertRaises(ValidationError):
            self.make_backend("No adapter")
        with self.assertRaisesRegex(PermanentError, "No adapter is installed"):
            self.backend._get_adapter()
