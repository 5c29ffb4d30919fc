from . import rest
