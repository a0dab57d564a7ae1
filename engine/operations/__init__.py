"""The verbs :class:`engine.api.Engine` offers, one module per area. Each class is a part of
``Engine`` working on its :class:`~engine.services.Services`; a front end calls them on the
engine and never reaches the services."""
