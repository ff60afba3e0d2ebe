"""A Lambda handler file, unchanged from what you would deploy: loaded per execution context.

Module-level code (here: reading the configuration, counting cold starts) runs once per
execution context, exactly as on Lambda, and is reused by warm invocations.
"""

import logging
import os

logger = logging.getLogger(__name__)
GREETING = os.environ.get("GREETING", "Hello")
contexts_started = 1  # module state: a fresh module instance per context
served = 0


def lambda_handler(event, context):
    global served
    served += 1
    logger.info("greeting %s", event.get("name"))
    return {
        "message": f"{GREETING}, {event.get('name', 'world')}!",
        "served_by_this_context": served,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
