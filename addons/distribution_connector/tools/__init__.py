from . import access, cipher
from .settings import setting
