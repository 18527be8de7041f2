"""Queue order: higher effective priority first, aging so nothing starves, then arrival order.

Effective priority = priority + seconds waited / `aging_seconds` (continuous, no steps), so
within one queue the order never changes over time and a task's position is the fixed score
`created - priority * aging_seconds` (lower first). Without aging the priority dominates and
`created` orders within a priority. Ties (equal score) go by arrival sequence. Across queues
(an agent serving several) the effective priority at `now` decides, then arrival sequence.
"""
from __future__ import annotations

from routing.types import QueueConfig, Task, TaskRecord

# Without aging, one priority step must outweigh any difference in creation time.
NO_AGING_WEIGHT = 1e10


def queue_score(task: Task, queue: QueueConfig) -> float:
    """A task's fixed position in its queue; lower is served first."""
    weight = queue.aging_seconds or NO_AGING_WEIGHT
    return task.created - task.priority * weight


def effective_priority(task: Task, queue: QueueConfig, now: float) -> float:
    """Priority plus aging credit at `now`."""
    if not queue.aging_seconds:
        return float(task.priority)
    return task.priority + max(0.0, now - task.created) / queue.aging_seconds


def order_key(record: TaskRecord, queue: QueueConfig, now: float) -> tuple[float, float, int]:
    """Sort key across queues: lower is served first."""
    if queue.aging_seconds:
        return (-effective_priority(record.task, queue, now), 0.0, record.seq)
    return (-float(record.task.priority), record.task.created, record.seq)
