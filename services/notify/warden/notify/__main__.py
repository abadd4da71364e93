"""``python -m warden.notify``: serve the notify API (and its delivery worker) with uvicorn."""

from warden.notify.app import create_app
from warden.notify.settings import NotifySettings
from warden.shared.runner import serve

if __name__ == "__main__":
    serve(create_app, NotifySettings())
