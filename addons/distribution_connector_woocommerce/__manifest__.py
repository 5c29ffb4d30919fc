{
    "name": "Distribution Connector WooCommerce",
    "summary": "WooCommerce webhooks, orders, stock, fulfillments and order pulls "
    "for Distribution Sync",
    "version": "19.0.1.2.0",
    "category": "Sales/Sales",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "depends": ["distribution_sync", "distribution_stock_publish"],
    "author": "Distribution Sync Contributors",
    "license": "LGPL-3",
    "external_dependencies": {"python": ["requests"]},
    "demo": [
        "demo/distribution_connector_woocommerce_demo.xml",
    ],
}
