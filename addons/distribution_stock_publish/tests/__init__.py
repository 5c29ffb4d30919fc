from . import test_rules
from . import test_allocation_property
from . import test_engine
from . import test_dirty
from . import test_export
from . import test_job_runner
from . import test_rule_form
from . import test_multi_company
