from . import test_order_schema
from . import test_order_import
from . import test_multi_company
from . import test_secrets_hygiene
from . import test_job_runner
from . import test_concurrency
from . import test_webhook_order
from . import test_order_cancellation
