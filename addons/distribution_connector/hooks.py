def uninstall_hook(env):
    """Drop what the module created outside the ORM: the function storing
    inbound exchanges (see ``distribution.exchange.init``)."""
    env.cr.execute("DROP FUNCTION IF EXISTS distribution_exchange_insert_inbound")
