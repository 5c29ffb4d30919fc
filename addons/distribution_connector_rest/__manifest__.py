{
    "name": "Distribution Connector REST",
    "summary": "Configurable JSON/HTTP adapter for B2B portals, warehouse systems "
    "and 3PLs that speak the canonical Distribution Sync objects",
    "version": "19.0.1.3.0",
    "depends": ["distribution_sync", "distribution_stock_publish"],
    "category": "Sales/Sales",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "external_dependencies": {"python": ["requests"]},
    "author": "Distribution Sync Contributors",
    "license": "LGPL-3",
    "data": ["views/distribution_backend_views.xml"],
    "demo": ["demo/distribution_connector_rest_demo.xml"],
}
