{
    "name": "Distribution Connector Shopify",
    "summary": "Shopify adapter: signed webhooks for orders, cancellations and "
    "refunds, stock publishing with compare-and-set, fulfillments with "
    "tracking and order pulls for reconciliation",
    "version": "19.0.1.1.0",
    "category": "Sales/Sales",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "author": "Distribution Sync Contributors",
    "license": "LGPL-3",
    "depends": ["distribution_sync", "distribution_stock_publish"],
    "external_dependencies": {"python": ["jsonschema", "requests"]},
    "data": [
        "views/distribution_backend_views.xml",
    ],
    "demo": [
        "demo/distribution_connector_shopify_demo.xml",
    ],
}
