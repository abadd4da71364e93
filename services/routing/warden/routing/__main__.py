"""``python -m warden.routing``: serve the routing API with uvicorn."""

from warden.routing.app import create_app
from warden.routing.settings import RoutingSettings
from warden.shared.runner import serve

if __name__ == "__main__":
    serve(create_app, RoutingSettings())
