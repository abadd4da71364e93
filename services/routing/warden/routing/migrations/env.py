import warden.routing.models  # noqa: F401  (registers the tables)
from warden.shared.migrations import run_env

run_env()
