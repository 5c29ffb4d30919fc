{
    "name": "Distribution Connector",
    "summary": "Backends, encrypted credentials, signed webhooks and the exchange log "
    "for sales channels, B2B portals, warehouses, 3PLs and carriers",
    "version": "19.0.1.1.1",
    "category": "Sales/Sales",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "author": "Distribution Sync Contributors",
    "license": "LGPL-3",
    "uninstall_hook": "uninstall_hook",
    "application": True,
    "depends": ["mail", "stock", "queue_job"],
    "external_dependencies": {"python": ["cryptography", "requests"]},
    "data": [
        "security/distribution_security.xml",
        "security/ir.model.access.csv",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "views/distribution_backend_views.xml",
        "views/distribution_backend_reconcile_views.xml",
        "views/distribution_exchange_views.xml",
        "views/distribution_menus.xml",
    ],
}
