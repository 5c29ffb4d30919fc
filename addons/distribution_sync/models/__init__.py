from . import distribution_backend
from . import distribution_binding
from . import distribution_exception
from . import distribution_exchange
from . import sale_order
from . import sale_order_line
from . import stock_picking
from . import stock_quant
