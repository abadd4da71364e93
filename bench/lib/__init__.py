"""What the benchmarks share: throwaway databases and topics, service processes, wrk, an
open-loop HTTP load generator, process CPU and RSS readings (one module each; everything is
importable from ``lib``).

Nothing here is imported by the services; the benchmarks import the services' code only to
migrate their databases and build events.
"""

from __future__ import annotations

from lib.settings import (  # noqa: F401
    ADMIN_DSN,
    API_KEY,
    KAFKA,
    MIGRATIONS,
    PYTHONPATH,
    REPO,
    REVIEWER_SECRET,
    TREE,
    WEBHOOK_SECRET,
    free_port,
)
from lib.infrastructure import (  # noqa: F401
    create_database,
    create_topics,
    delete_topics,
    drop_database,
    scalar,
)
from lib.processes import (  # noqa: F401
    LOG_DIR,
    Proc,
    cpu_seconds,
    infrastructure_cpu_seconds,
    rss_mb,
    service_env,
    start,
    start_service,
    stop,
    wait_ready,
)
from lib.load import (  # noqa: F401
    KEEP_ALIVE_S,
    OpenLoopResult,
    WrkResult,
    ensure_wrk,
    load_average,
    open_loop,
    percentile,
    report_template,
    wrk,
)
