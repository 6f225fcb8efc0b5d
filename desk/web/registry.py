"""Where the desk's pages declare themselves: routes, links in the top bar, case-page buttons.

Every module of pages has ``register(registry)``; the server collects them into one tornado
application behind the same checks (:class:`desk.web.base.DeskHandler`). A module never edits
another's page: the top bar shows :attr:`Registry.nav`, and the case page shows a form button for
each of :attr:`Registry.case_actions`, posting to its path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tornado.web import RequestHandler


@dataclass(frozen=True)
class Link:
    """A link in the top bar, or a button on each case page posting to ``path``, whose
    ``{reference}`` is the case's; ``label`` is a message id of the desk's catalogue."""

    path: str
    label: str

    def path_for(self, reference: str) -> str:
        return self.path.format(reference=reference)


@dataclass
class Registry:
    """Routes and the links and buttons that lead to them."""

    routes: list[tuple[str, type[RequestHandler], dict[str, Any]]] = field(default_factory=list)
    nav: list[Link] = field(default_factory=list)
    case_actions: list[Link] = field(default_factory=list)

    def route(
        self, pattern: str, handler: type[RequestHandler], **kwargs: Any
    ) -> None:
        """Serve ``pattern`` (a tornado URL pattern) with ``handler``."""
        self.routes.append((pattern, handler, kwargs))

    def link(self, path: str, label: str) -> None:
        """Show a link to ``path`` in the top bar."""
        self.nav.append(Link(path, label))

    def case_action(self, path: str, label: str) -> None:
        """Show a button posting to ``path`` on each case page."""
        self.case_actions.append(Link(path, label))
