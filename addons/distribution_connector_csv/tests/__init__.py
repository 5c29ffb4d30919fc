from . import test_csv_mapping
from . import test_csv_3pl
from . import test_demo_data
from . import test_access
