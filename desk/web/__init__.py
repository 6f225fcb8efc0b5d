"""The desk's local web application (tornado): pages, their routes, and the server.

Pages are registered in a :class:`desk.web.registry.Registry`; each module of pages has a
``register(registry)`` function, and :data:`desk.web.server.PAGE_MODULES` lists them, so a new
page (statistics) or a new button on the case page (package this case) is one more module.
"""
