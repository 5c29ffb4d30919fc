from . import amazon
