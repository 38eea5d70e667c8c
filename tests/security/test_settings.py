"""Identity settings that cannot work together are refused at start, with the variable named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.settings import Settings


@pytest.mark.parametrize(("values", "named"), [
    ({"tls_client_ca_file": "ca.pem"}, "HUB_TLS_CERT_FILE"),
    ({"tls_key_file": "hub.key"}, "HUB_TLS_CERT_FILE"),
    ({"env": "production", "oidc_issuer": "http://login.example"}, "HUB_OIDC_ISSUER"),
    ({"env": "production", "oidc_issuer": "https://login.example",
      "oidc_jwks_url": "http://login.example/jwks"}, "HUB_OIDC_JWKS_URL"),
])
def test_incoherent_identity_settings_are_refused(values, named):
    with pytest.raises(ValidationError, match=named):
        Settings(**values)


def test_coherent_identity_settings_pass():
    Settings(tls_cert_file="hub.pem", tls_client_ca_file="ca.pem")
    Settings(env="production", oidc_issuer="https://login.example")
    Settings(env="test", oidc_issuer="http://127.0.0.1:8080")  # the tests' own issuer


def test_cors_origins_are_a_comma_separated_list():
    assert Settings().cors_origin_list == []
    assert Settings(cors_origins=" https://a.example ,https://b.example,").cors_origin_list == [
        "https://a.example", "https://b.example"]


def test_the_cli_names_the_variables_in_one_line(monkeypatch, capsys, tmp_path):
    from hub.cli import main

    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HUB_ENV", "production")
    monkeypatch.setenv("HUB_OIDC_ISSUER", "http://login.example")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: configuration: HUB_OIDC_ISSUER must be an https:// URL in production"]
