"""The server-rendered dashboards (seller pages here; the admin pages reuse the same stack).

How a page is built: a controller in ``gateway/web/pages/`` whose handlers take ``page_user``
(or ``page_admin``) and the same service dependencies as the JSON controllers, call one service
method and return ``page(...)`` with a template under ``gateway/web/templates/`` that extends
``base.html``. Forms post back with ``{{ csrf_field() }}``; errors re-render the form with
``form_errors(...)``; one-off notices go through ``flash(...)``.
"""
