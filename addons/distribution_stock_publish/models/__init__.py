from . import distribution_publish_rule
from . import distribution_publish_rule_override
from . import distribution_stock_level
from . import product_product
from . import product_template
from . import stock_move
from . import stock_quant
