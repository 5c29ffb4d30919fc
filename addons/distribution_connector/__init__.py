from . import adapters
from . import controllers
from . import models
