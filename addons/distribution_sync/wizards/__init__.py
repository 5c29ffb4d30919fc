from . import distribution_exception_ignore
from . import distribution_settlement_import
from . import distribution_sku_mapping
