"""Domain code shared by every Cloud Function of the alerting service."""
