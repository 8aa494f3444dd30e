"""kopf handlers: one module per kind, each parse -> observe -> decide (core) -> act.

Importing this package registers every handler in kopf's default registry.
"""

from seppmail_lifecycle.handlers import startup as startup
