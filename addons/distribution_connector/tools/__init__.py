from . import cipher
from .settings import setting
