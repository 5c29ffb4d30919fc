{
    "name": "Distribution Connector Amazon",
    "summary": "Amazon Selling Partner API adapter: LWA tokens, order pulls "
    "with their items and restricted-data addresses, shipment confirmations, "
    "rate limits per operation",
    "version": "19.0.1.1.0",
    "category": "Sales/Sales",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "author": "Distribution Sync Contributors",
    "license": "LGPL-3",
    "depends": ["distribution_sync", "distribution_stock_publish"],
    "external_dependencies": {"python": ["jsonschema", "requests"]},
    "data": [
        "security/ir.model.access.csv",
        "data/reconcile_data.xml",
        "views/distribution_backend_views.xml",
        "views/sale_order_views.xml",
    ],
    "demo": [
        "demo/distribution_connector_amazon_demo.xml",
    ],
}
