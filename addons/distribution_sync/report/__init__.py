from . import distribution_exchange_report
from . import distribution_flow_health
from . import distribution_exception_age
from . import distribution_queue_backlog
