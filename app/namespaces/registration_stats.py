"""/registrations/stats (挂号统计)."""
from __future__ import annotations
