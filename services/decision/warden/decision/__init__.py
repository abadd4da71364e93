"""Decision service: records enforcement decisions on routed cases."""
