{
    "name": "Distribution Connector SFTP",
    "summary": "The file transport of file-based adapters: SFTP polling of an "
    "inbound folder into exchanges, atomic SFTP uploads, pinned host keys",
    "version": "19.0.1.0.0",
    "category": "Sales/Sales",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "author": "Distribution Sync Contributors",
    "license": "LGPL-3",
    "depends": ["distribution_connector"],
    "external_dependencies": {"python": ["paramiko"]},
    "data": ["data/ir_cron_data.xml", "views/distribution_backend_views.xml"],
    "demo": ["demo/distribution_connector_sftp_demo.xml"],
}
