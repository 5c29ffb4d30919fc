{
    "name": "Distribution Webhook Unavailable",
    "summary": "Answers webhooks 503 Retry-After while the database is "
    "unreachable, instead of Odoo's 404",
    "version": "19.0.1.0.0",
    "category": "Sales/Sales",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "author": "Distribution Sync Contributors",
    "license": "LGPL-3",
    "depends": ["web"],
    # Loaded server-wide only (server_wide_modules), never installed in a
    # database: installed, its route would compete with the webhook route
    # of distribution_connector.
    "installable": False,
}
