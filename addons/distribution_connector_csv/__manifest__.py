{
    "name": "Distribution Connector CSV",
    "summary": "CSV files for 3PLs over SFTP: column maps per document, "
    "orders out, shipment confirmations, receipts and stock snapshots in",
    "version": "19.0.1.0.0",
    "category": "Sales/Sales",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "author": "Distribution Sync Contributors",
    "license": "LGPL-3",
    "depends": [
        "distribution_sync",
        "distribution_stock_publish",
        "distribution_connector_sftp",
    ],
    "data": [
        "security/ir.model.access.csv",
        "views/distribution_backend_views.xml",
        "views/distribution_exchange_views.xml",
    ],
    "demo": ["demo/distribution_connector_csv_demo.xml"],
}
