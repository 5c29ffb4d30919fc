{
    "name": "Distribution Sync",
    "summary": "Canonical objects validated with JSON Schema, bindings, the order, "
    "cancellation, return, shipment, receipt, stock snapshot and fulfillment "
    "flows, and the exception review queue",
    "version": "19.0.1.2.1",
    "category": "Sales/Sales",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "author": "Distribution Sync Contributors",
    "license": "LGPL-3",
    "depends": ["distribution_connector", "sale_stock"],
    "external_dependencies": {"python": ["jsonschema"]},
    "data": [
        "security/ir.model.access.csv",
        "security/distribution_sync_security.xml",
        "security/distribution_dashboard_security.xml",
        "security/distribution_reconcile_security.xml",
        "data/product_data.xml",
        "data/queue_job_data.xml",
        "data/reconcile_data.xml",
        "wizards/distribution_exception_ignore_views.xml",
        "wizards/distribution_sku_mapping_views.xml",
        "views/distribution_exception_views.xml",
        "views/distribution_binding_views.xml",
        "views/distribution_backend_views.xml",
        "views/sale_order_views.xml",
        "views/product_views.xml",
        "views/stock_picking_views.xml",
        "views/distribution_sync_menus.xml",
        "views/distribution_dashboard_views.xml",
        "views/distribution_dashboard_menus.xml",
        "views/distribution_settlement_views.xml",
    ],
    "demo": [
        "demo/distribution_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "distribution_sync/static/tests/tours/*.js",
        ],
    },
}
