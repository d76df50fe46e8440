"""Propagation targets, the excluded-URL registry and SigV4 detection."""

from __future__ import annotations

import pytest

from tracing_middleware.core import destinations as targets
from tracing_middleware.core.destinations import PropagationTargets, is_sigv4


def allows(t: PropagationTargets, url: str) -> bool:
    scheme, rest = url.split("://", 1)
    netloc = rest.split("/", 1)[0]
    host, _, port = netloc.partition(":")
    path = rest[len(netloc) :] or "/"
    return t.allows(scheme, host, int(port) if port else None, f"{scheme}://{netloc}{path}")


@pytest.mark.parametrize(
    ("pattern", "url", "expected"),
    [
        ("*", "http://anything.example/x", True),
        ("api.internal", "http://api.internal/x", True),
        ("api.internal", "https://api.internal:8443/x", True),
        ("api.internal", "http://web.internal/x", False),
        ("API.Internal", "http://api.internal/x", True),
        ("api.internal:8443", "https://api.internal:8443/x", True),
        ("api.internal:8443", "https://api.internal/x", False),
        ("api.internal:443", "https://api.internal/x", True),  # the default port counts
        ("*.internal", "http://a.b.internal/x", True),
        ("*.internal", "http://internal/x", False),
        ("*.internal", "http://evil-internal/x", False),
        ("*.internal:9000", "http://a.internal:9000/x", True),
        ("*.internal:9000", "http://a.internal:9001/x", False),
        ("https://api.example.com/v1", "https://api.example.com/v1/items", True),
        ("https://api.example.com/v1", "https://api.example.com/v1", True),
        ("https://api.example.com/v1", "https://api.example.com/v10", False),
        ("https://api.example.com", "https://api.example.com.evil.net/x", False),
        ("https://api.example.com:443", "https://api.example.com/x", True),
        ("https://API.example.com/V1", "https://api.example.com/V1/x", True),
        ("http://api.example.com", "https://api.example.com/x", False),
    ],
)
def test_patterns(pattern: str, url: str, expected: bool) -> None:
    assert allows(PropagationTargets([pattern]), url) is expected


def test_ipv6_hosts() -> None:
    t = PropagationTargets(["[::1]:8080"])
    assert t.allows("http", "::1", 8080, "http://[::1]:8080/x")
    assert not t.allows("http", "::1", 8081, "http://[::1]:8081/x")


def test_default_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PropagationTargets().all and PropagationTargets.from_env().all
    monkeypatch.setenv(targets.ENV_VAR, "a.internal, https://b.example/api ,")
    from_env = PropagationTargets.from_env()
    assert allows(from_env, "http://a.internal/x") and allows(from_env, "https://b.example/api/v2")
    assert not allows(from_env, "https://b.example/other")
    monkeypatch.setenv(targets.ENV_VAR, "bad host")
    with pytest.raises(ValueError, match=targets.ENV_VAR):
        PropagationTargets.from_env()


@pytest.mark.parametrize("bad", ["", "a/b", "host:99999", "host:port", "*", "*.", "a*b.internal", "https://", "x@y"])
def test_bad_patterns_are_refused(bad: str) -> None:
    if bad == "*":
        assert PropagationTargets([bad]).all
        return
    with pytest.raises(ValueError, match=r"propagation target|URL prefix"):
        PropagationTargets([bad])


def test_non_string_patterns_are_refused() -> None:
    with pytest.raises(TypeError, match="strings"):
        PropagationTargets([5])  # type: ignore[list-item]


def test_excluded_url_registry() -> None:
    targets.exclude_urls("HTTPS://Ingest.Example.com:443/api/", "http://127.0.0.1:4318/v1/traces")
    targets.exclude_urls("http://127.0.0.1:4318/v1/traces")
    assert targets.excluded_urls() == ("https://ingest.example.com/api/", "http://127.0.0.1:4318/v1/traces")
    assert targets.is_excluded("https://ingest.example.com/api/runs")
    assert targets.is_excluded("http://127.0.0.1:4318/v1/traces")
    assert not targets.is_excluded("http://127.0.0.1:4318/v1/tracesX")
    targets.include_urls("http://127.0.0.1:4318/v1/traces")
    assert not targets.is_excluded("http://127.0.0.1:4318/v1/traces")
    with pytest.raises(ValueError, match="URL prefix"):
        targets.exclude_urls("not a url")


@pytest.mark.parametrize(
    ("authorization", "query", "expected"),
    [
        ("AWS4-HMAC-SHA256 Credential=AKID/...", "", True),
        ("  aws4-hmac-sha256 Credential=AKID/...", "", True),
        ("Bearer token", "", False),
        (None, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=1&X-Amz-Signature=ab", True),
        (None, "x-amz-signature=ab", True),
        (None, "q=X-Amz-Signature", False),
        (None, "", False),
    ],
)
def test_sigv4_detection(authorization: str | None, query: str, expected: bool) -> None:
    assert is_sigv4(authorization, query) is expected
