from . import distribution_backend
from . import distribution_binding
from . import distribution_exchange
from . import sale_order
from . import account_move
