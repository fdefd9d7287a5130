"""One module per Cloud Function. Each handler only decodes its input and calls shared/.

Importing this package boots the instance: structured logging first, then settings,
configuration and clients. A deployed function without credentials, or with an invalid
configuration, fails here at cold start, loudly, instead of at the first alert.
"""

from shared.container import deps
from shared.logging_setup import configure_logging

configure_logging()
deps()
