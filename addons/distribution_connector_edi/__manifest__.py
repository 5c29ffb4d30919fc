{
    "name": "Distribution Connector EDI",
    "summary": "X12 (004010/005010) and EDIFACT (D96A/D01B) trading partners "
    "over SFTP: purchase orders and changes in; acknowledgments, order "
    "responses, ship notices with SSCCs, invoices and inventory out",
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
    "external_dependencies": {"python": ["pydifact", "pyx12"]},
    "data": ["views/distribution_backend_views.xml"],
    "demo": ["demo/distribution_connector_edi_demo.xml"],
}
