"""kopf handlers: one module per kind. Each only records the watch event in the store and
enqueues the aggregates it affects; deciding and acting is the runtime's job (parse -> observe ->
decide in the core -> act).

Importing this package registers every handler in kopf's default registry.
"""

from seppmail_lifecycle.handlers import (
    contract as contract,
)
from seppmail_lifecycle.handlers import (
    deployrequest as deployrequest,
)
from seppmail_lifecycle.handlers import (
    domain as domain,
)
from seppmail_lifecycle.handlers import (
    invoice as invoice,
)
from seppmail_lifecycle.handlers import (
    license as license,
)
from seppmail_lifecycle.handlers import (
    partner as partner,
)
from seppmail_lifecycle.handlers import (
    payment as payment,
)
from seppmail_lifecycle.handlers import (
    product as product,
)
from seppmail_lifecycle.handlers import (
    routing as routing,
)
from seppmail_lifecycle.handlers import (
    service as service,
)
from seppmail_lifecycle.handlers import (
    startup as startup,
)
from seppmail_lifecycle.handlers import (
    tenant as tenant,
)
