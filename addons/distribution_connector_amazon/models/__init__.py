from . import distribution_amazon_marketplace
from . import distribution_backend
from . import distribution_exception
from . import distribution_exchange
from . import sale_order
from . import stock_picking
