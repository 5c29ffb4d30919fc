from . import flows
from . import models
from . import wizards
