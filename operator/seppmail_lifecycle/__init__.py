"""seppmail-lifecycle: the Kubernetes operator for the seppmail.cloud lifecycle.

API group ``lifecycle.seppmail.cloud``, version ``v1alpha1``.
"""

GROUP = "lifecycle.seppmail.cloud"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FINALIZER = f"{GROUP}/finalizer"

__version__ = "0.1.0"
