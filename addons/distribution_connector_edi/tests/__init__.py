from . import test_edi_x12
from . import test_edi_edifact
