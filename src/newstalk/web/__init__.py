"""The web app: server-rendered pages for listeners (and the editors' desk) at ``/``.

Pages call the app's own API in process (``client.py``), so what a page shows is what the
API answers; the browser's JavaScript calls the same API with the session cookie.
"""
