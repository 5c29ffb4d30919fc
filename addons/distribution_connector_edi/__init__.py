from . import adapters
from . import models
