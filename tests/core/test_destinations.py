"""Propagation targets and the default rule, the excluded-URL registry and SigV4 detection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tracing_middleware import get_runtime, use_runtime
from tracing_middleware.core import destinations as targets
from tracing_middleware.core.destinations import PropagationTargets, is_sigv4


def parts(url: str) -> tuple[str, str, int | None, str]:
    scheme, rest = url.split("://", 1)
    netloc = rest.split("/", 1)[0]
    if netloc.startswith("["):
        host, _, port = netloc[1:].partition("]:")
        host = host.rstrip("]")
    else:
        host, _, port = netloc.partition(":")
    path = rest[len(netloc) :] or "/"
    return scheme, host, int(port) if port else None, f"{scheme}://{netloc}{path}"


def named(t: PropagationTargets, url: str) -> bool:
    return t.named(*parts(url))


def allows(t: PropagationTargets, url: str) -> bool:
    return t.allows(*parts(url))


def decide(t: PropagationTargets, url: str) -> int:
    return t.decide(*parts(url))


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
    assert named(PropagationTargets([pattern]), url) is expected


def test_ipv6_hosts() -> None:
    t = PropagationTargets(["[2001:db8::1]:8080"])
    assert t.named("http", "2001:db8::1", 8080, "http://[2001:db8::1]:8080/x")
    assert not t.named("http", "2001:db8::1", 8081, "http://[2001:db8::1]:8081/x")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/x", "http://[::1]:8000/x", "http://10.1.2.3/x", "http://172.20.0.5/x",
        "http://192.168.1.10/x", "http://169.254.169.254/x", "http://100.64.0.1/x", "http://[fd12:3456::1]/x",
        "http://[fe80::1]/x", "http://[::ffff:10.0.0.1]/x", "http://localhost:3000/x", "http://orders/x",
        "http://orders.:80/x", "http://ORDERS-SVC/x", "http://api.internal/x", "http://db.us-east1.c.proj.internal/x",
        "http://printer.local/x", "http://web.shop.svc/x", "http://web.shop.svc.cluster.local:8080/x",
        "http://nas.lan/x", "http://router.home.arpa/x", "http://app.localhost/x", "http://api.service.consul/x",
        "http://host.docker.internal:5000/x",
    ],
)  # fmt: skip
def test_the_deployment_s_own_hosts_get_everything_by_default(url: str) -> None:
    assert decide(PropagationTargets(), url) == targets.FULL


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1/chat/completions", "https://api.anthropic.com/v1/messages",
        "https://generativelanguage.googleapis.com/v1beta/models", "https://us-central1-aiplatform.googleapis.com/x",
        "https://myres.openai.azure.com/openai/deployments/x", "https://bedrock-runtime.us-east-1.amazonaws.com/x",
        "https://s3.amazonaws.com/bucket/key", "https://api.mistral.ai/v1/x", "https://api.cohere.com/v2/chat",
        "https://api.groq.com/openai/v1/x", "https://api.together.xyz/v1/x", "https://API.OpenAI.com./v1",
    ],
)  # fmt: skip
def test_well_known_ai_and_cloud_apis_get_nothing_by_default(url: str) -> None:
    assert decide(PropagationTargets(), url) == targets.NOTHING
    assert decide(PropagationTargets(["api.partner.example"]), url) == targets.NOTHING


@pytest.mark.parametrize(
    "url",
    [
        "https://api.partner.example/x", "https://8.8.8.8/x", "https://[2001:4860::8888]/x", "https://172.32.0.1/x",
        "https://evil-internal.com/x", "https://internal.example.com/x", "https://openai.com.evil.net/x",
        "https://notopenai.com/x", "https://192.168.1.1.nip.io/x",
    ],
)  # fmt: skip
def test_other_public_hosts_get_trace_ids_only(url: str) -> None:
    assert decide(PropagationTargets(), url) == targets.TRACE_IDS
    assert decide(PropagationTargets(public_trace_ids=False), url) == targets.NOTHING


def test_named_targets_widen_the_default() -> None:
    widened = PropagationTargets(["api.partner.example", "*.openai.com"])
    assert decide(widened, "https://api.partner.example/x") == targets.FULL
    assert decide(widened, "https://api.openai.com/v1/x") == targets.FULL  # named: the user asked for it
    assert decide(widened, "http://127.0.0.1/x") == targets.FULL  # the deployment keeps its default
    assert decide(widened, "https://api.anthropic.com/v1/x") == targets.NOTHING
    assert decide(PropagationTargets(["*"]), "https://api.anthropic.com/v1/x") == targets.FULL
    strict = PropagationTargets(["api.partner.example"], internal=False, public_trace_ids=False)
    assert decide(strict, "http://127.0.0.1/x") == targets.NOTHING
    assert decide(strict, "https://api.partner.example/x") == targets.FULL
    assert "internal=False" in repr(strict)
    with pytest.raises(TypeError, match="internal must be True or False"):
        PropagationTargets(internal="no")  # type: ignore[arg-type]


def test_default_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not PropagationTargets().all and not PropagationTargets.from_env().all
    assert decide(PropagationTargets.from_env(), "https://b.example/api") == targets.TRACE_IDS
    monkeypatch.setenv(targets.ENV_VAR, "a.partner.example, https://b.example/api ,")
    from_env = PropagationTargets.from_env()
    assert allows(from_env, "http://a.partner.example/x") and allows(from_env, "https://b.example/api/v2")
    assert not allows(from_env, "https://b.example/other") and allows(from_env, "http://10.0.0.7/x")
    # A bad entry warns and sends headers nowhere new.
    monkeypatch.setenv(targets.ENV_VAR, "bad host,a.partner.example")
    partial = PropagationTargets.from_env()
    assert allows(partial, "http://a.partner.example/x") and not allows(partial, "https://other.example/")
    monkeypatch.setenv(targets.ENV_VAR, "bad host")
    assert not allows(PropagationTargets.from_env(), "https://other.example/")


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


@pytest.fixture
def own_runtime() -> Iterator[None]:
    """Exclusions and outbound options of this test's own (exporters set up by other tests exclude theirs)."""
    with use_runtime(get_runtime().copy(excluded_urls=(), outbound_options=None)):
        yield


def test_excluded_url_registry(own_runtime: None) -> None:
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


def test_level_for_a_url_or_a_bare_host(own_runtime: None) -> None:
    assert targets.level_for("http://orders:8080/x") == targets.FULL
    assert targets.level_for("orders.internal:8443") == targets.FULL  # a Host header's form
    assert targets.level_for("https://api.openai.com/v1") == targets.NOTHING
    assert targets.level_for("api.partner.example") == targets.TRACE_IDS
    assert targets.level_for("http://[::1]:99999/x") == targets.NOTHING  # unreadable: nothing is sent
    assert targets.level_for("") == targets.NOTHING
    targets.exclude_urls("http://orders:8080/ingest")
    assert targets.level_for("http://orders:8080/ingest/batch") == targets.NOTHING
    assert targets.level_for("api.partner.example", PropagationTargets(["api.partner.example"])) == targets.FULL


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
