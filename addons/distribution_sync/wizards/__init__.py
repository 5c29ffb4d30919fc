from . import distribution_exception_ignore
