from . import adapters
from . import controllers
from . import models
from .hooks import uninstall_hook
