"""``python -m warden.intake``: serve the intake API with uvicorn."""

from warden.intake.app import create_app
from warden.intake.settings import IntakeSettings
from warden.shared.runner import serve

if __name__ == "__main__":
    serve(create_app, IntakeSettings())
