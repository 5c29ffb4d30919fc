from . import distribution_backend
