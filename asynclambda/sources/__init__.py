"""Event sources (queues, streams, schedules) and event source mappings."""
