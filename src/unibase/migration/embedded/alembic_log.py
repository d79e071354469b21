"""How an Alembic revision written by unibase reports what it did.

Everything below the marker is copied into the revision (which imports ``logging`` itself).
"""

import logging

# --- embedded: everything below this line is copied into the migration as it is ---
# Alembic's own logger: its messages appear beside "Running upgrade ..."
log = logging.getLogger("alembic.runtime.migration")


def _say(text):
    log.info(text)
