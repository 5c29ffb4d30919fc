from .base import DistributionAdapter
from . import tools
from . import generic_json
