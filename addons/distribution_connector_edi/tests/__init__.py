from . import test_edi_x12
from . import test_edi_edifact
from . import test_demo_data
