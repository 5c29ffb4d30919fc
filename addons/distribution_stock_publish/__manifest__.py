{
    "name": "Distribution Stock Publishing",
    "summary": "Per-channel stock publishing rules (safety stock, shared or "
    "partitioned allocation, caps, thresholds, packs), set-based computation "
    "and export of the changed quantities only",
    "version": "19.0.1.3.0",
    "category": "Inventory/Inventory",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "author": "Distribution Sync Contributors",
    "license": "LGPL-3",
    "depends": ["distribution_connector", "distribution_sync", "sale_stock"],
    "external_dependencies": {"python": []},
    "data": [
        "security/distribution_stock_publish_security.xml",
        "security/ir.model.access.csv",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "data/reconcile_data.xml",
        "views/distribution_publish_rule_views.xml",
        "views/distribution_stock_level_views.xml",
        "views/distribution_stock_publish_menus.xml",
        "views/distribution_dashboard_views.xml",
        "views/distribution_reconcile_views.xml",
        "views/sale_order_views.xml",
    ],
    "demo": [
        "demo/distribution_stock_publish_demo.xml",
    ],
}
