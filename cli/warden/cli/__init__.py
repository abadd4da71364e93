"""``warden``: the on-call engineer's command line, one entry point over all four services.

It lives above the services (it imports them; nothing imports it), so the shared package
never reaches up into a service.
"""
