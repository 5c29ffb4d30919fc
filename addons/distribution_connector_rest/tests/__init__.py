from . import test_rest_webhook
from . import test_rest_outbound
from . import test_rest_flows
