from . import distribution_backend
from . import distribution_backend_warehouse
from . import distribution_exchange
