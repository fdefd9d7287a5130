"""The notification pipeline, Alertmanager-style: a literal sequence of small stages.

    new alert:   validate → route → dedup → (per contact) rate-limit+claim → render → send → record → retry/fallback
    retry job:   due? → claim attempt → reconcile unknown outcome → render → send → record → retry/fallback
"""

from shared.pipeline.deps import PipelineDeps
from shared.pipeline.intake import process_new_alert
from shared.pipeline.retry import process_retry_job

__all__ = ["PipelineDeps", "process_new_alert", "process_retry_job"]
