from . import test_rest_webhook
from . import test_rest_outbound
