from . import test_demo_data
from . import test_fulfillment
from . import test_mapping
from . import test_pull_orders
from . import test_stock_export
from . import test_stock_feed
from . import test_fba
from . import test_settlement
