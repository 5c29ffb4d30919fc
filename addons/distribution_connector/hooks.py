from .inbox import drop_insert_function


def uninstall_hook(env):
    """Drop what the module created outside the ORM: the function storing
    inbound exchanges (see ``distribution.exchange.init``)."""
    drop_insert_function(env.cr)
