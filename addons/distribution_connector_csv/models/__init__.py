from . import distribution_csv_column
from . import distribution_backend
from . import distribution_exchange
from . import sale_order
