from .base import ADAPTERS, DistributionAdapter, register_adapter
from . import generic_json
