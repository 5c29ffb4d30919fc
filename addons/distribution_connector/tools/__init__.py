from . import cipher, inbox
from .settings import setting
