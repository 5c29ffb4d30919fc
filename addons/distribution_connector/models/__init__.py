from . import distribution_backend
from . import distribution_backend_throttle
from . import distribution_backend_warehouse
from . import distribution_exchange
from . import distribution_call_log
from . import distribution_backend_reconcile
