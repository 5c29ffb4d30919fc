from . import test_rest_webhook
from . import test_rest_outbound
from . import test_rest_flows
from . import test_demo_data
