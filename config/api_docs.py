"""The API's documentation page, served from the vendored sidecar under the site's Content-Security-Policy.

drf-spectacular's Swagger template puts its initializer and a few style rules inline. Ours
(``templates/api/swagger_ui.html``) loads every file from this site: the initializer comes from the split
view as a script of its own (``?script``), the style rules from ``css/api-docs.css``.

There is no Redoc page: the sidecar's Redoc bundle always shows a logo from Redocly's CDN (a request to
another site on every visit) and writes its styles into inline ``<style>`` elements, so it cannot run
offline under the policy. ``/api/redoc/`` sends old links to the Swagger page.
"""

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
