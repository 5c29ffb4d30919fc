"""Who may call what.

Every public method of a model is an RPC endpoint: Odoo checks no group
before calling it, and a view's ``groups`` only hides a button. So a public
method that works with superuser rights (``sudo()``) first checks its caller
with :func:`check_group`, and the entry points of jobs and crons, which
nobody calls by hand, are ``@api.private``.
"""

from odoo.exceptions import AccessError

USER_GROUP = "distribution_connector.group_distribution_user"
MANAGER_GROUP = "distribution_connector.group_distribution_manager"


def check_group(records, group, operation="read"):
    """Refuse the caller unless it belongs to ``group`` and may ``operation``
    each of ``records`` (access rights and record rules, hence companies).

    The superuser passes: jobs, crons and code already in ``sudo()``.

    :raise AccessError: naming the group that may
    """
    env = records.env
    if env.su:
        return
    if not env.user.has_group(group):
        raise AccessError(
            env._(
                "%(user)s may not do this: it is reserved to the %(group)s group.",
                user=env.user.name,
                group=env.ref(group).sudo().full_name,
            )
        )
    records.check_access(operation)


def is_manager(env):
    """True for Distribution Managers and the superuser."""
    return env.su or env.user.has_group(MANAGER_GROUP)
