from . import test_backend_secrets
from . import test_exchange
from . import test_http_client
from . import test_throttle
from . import test_webhook
from . import test_dispatch
from . import test_exchange_duplicates
from . import test_inbox
