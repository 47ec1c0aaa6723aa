"""Print the URL of a local PostgreSQL that answers (database ``test``, trust auth), or nothing."""

import socket
import sys

URL = "postgresql://postgres@127.0.0.1:5432/test"

try:
    socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
except OSError:
    sys.exit(0)
print(URL)
