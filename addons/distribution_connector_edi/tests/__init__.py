from . import test_edi_x12
