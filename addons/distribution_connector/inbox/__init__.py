"""How inbound exchanges are stored and handed to the job queue (see
README.md beside this file)."""

from .connections import InboxConnections, connections
from .insert_function import create_insert_function, drop_insert_function

__all__ = [
    "InboxConnections",
    "connections",
    "create_insert_function",
    "drop_insert_function",
]
