{
    "name": "Distribution Connector Shopify",
    "summary": "Shopify adapter: signed webhooks for orders, cancellations and "
    "refunds, stock publishing with compare-and-set, fulfillments with "
    "tracking and order pulls for reconciliation",
    "version": "19.0.1.2.0",
    "category": "Sales/Sales",
    "depends": ["distribution_sync", "distribution_stock_publish"],
    "website": "https://github.com/distribution-sync/distribution-sync",
    "author": "Distribution Sync Contributors",
    "external_dependencies": {"python": ["jsonschema", "requests"]},
    "license": "LGPL-3",
    "data": [
        "views/distribution_backend_views.xml",
    ],
    "demo": [
        "demo/distribution_connector_shopify_demo.xml",
    ],
}
