"""``python -m warden.decision``: serve the decision API with uvicorn."""

from warden.decision.app import create_app
from warden.decision.settings import DecisionSettings
from warden.shared.runner import serve

if __name__ == "__main__":
    serve(create_app, DecisionSettings())
