from . import webhook_unavailable
