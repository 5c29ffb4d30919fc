from . import test_mapping
from . import test_webhook
from . import test_order_import
from . import test_stock_export
from . import test_fulfillment
from . import test_pull_orders
from . import test_stock_publish
from . import test_read_stock
