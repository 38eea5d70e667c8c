"""``/docs`` works without internet: every asset is served by the hub itself (issue 15, item 7)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_docs_references_no_other_host_and_its_assets_are_served(client):
    page = client.get("/docs")
    assert page.status_code == 200
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page.text)
    urls = re.findall(r"""(?:url|openapi_url|oauth2RedirectUrl)['"]?\s*:\s*['"]([^'"]+)""",
                      page.text)
    assert links and urls
    for target in [*links, *urls]:
        assert target.startswith("/") and not target.startswith("//"), target
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    for target in links:
        asset = client.get(target)
        assert asset.status_code == 200, target
        assert asset.headers["content-type"].split(";")[0] in (
            "application/javascript", "text/javascript", "text/css", "image/png"), target
    assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
    # The page's policy allows this hub only: a browser would refuse a CDN.
    policy = page.headers["content-security-policy"]
    assert "http" not in policy and "script-src 'self'" in policy
    assert client.get("/docs/oauth2-redirect").status_code == 200
    assert client.get("/redoc").status_code == 404  # it only ever loaded from a CDN
