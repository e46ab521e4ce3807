"""Services: servers on the stack's socket API, each a small program a learner reads top to
bottom (CONVENTIONS 17).

* ``http`` -- an HTTP/1.1 server (``serve_http``) with static files and ``/api/status``;
  ``http11`` its request parser and response writer, ``status`` the status document
  (the one definition of its JSON shape, shared with DOS64's own server) and ``site/``
  the status page it serves.
"""
