from . import schemas
