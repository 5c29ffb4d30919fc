from . import access, cipher, inbox
from .settings import setting
