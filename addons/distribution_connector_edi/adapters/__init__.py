from . import edi
