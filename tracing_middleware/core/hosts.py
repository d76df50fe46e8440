"""What kind of host a request goes to: inside the deployment, a well-known hosted API, or the public internet.

The default propagation rule (see ``destinations``) rests on this:

- ``internal_host``: loopback, private and link-local addresses (IPv4 and IPv6, including unique local
  ``fc00::/7`` and shared ``100.64.0.0/10``), ``localhost``, single-label names (``orders``,
  ``redis``: a cluster's or a compose file's service names) and the suffixes private networks use
  (``.internal``, ``.local``, ``.svc``, ``.cluster.local``, ``.lan``, ``.home.arpa``, ``.localhost``,
  ``.localdomain``, ``.intranet``, ``.corp``, ``.private``, ``.consul``, ``.test``).
- ``well_known_api``: hosted AI and cloud APIs that never continue a trace (OpenAI, Anthropic,
  Google's APIs including Gemini and Vertex AI, Azure including Azure OpenAI, AWS, Mistral, Cohere,
  Groq, Together, Fireworks, DeepSeek, xAI, Perplexity, OpenRouter, Replicate, Hugging Face, …).

Both are pure functions of the host name, cached: a service calls the same few hosts over and over.
"""

from __future__ import annotations

import functools
import ipaddress

__all__ = ["INTERNAL_SUFFIXES", "WELL_KNOWN_APIS", "internal_host", "well_known_api"]

INTERNAL_SUFFIXES = (
    ".internal",  # reserved by ICANN for private use; GCP and AWS name instances under it
    ".local",  # mDNS, and Kubernetes' .cluster.local / .svc.cluster.local
    ".svc",  # Kubernetes short service names (name.namespace.svc)
    ".lan",
    ".home.arpa",  # RFC 8375
    ".localhost",  # RFC 6761
    ".localdomain",
    ".intranet",
    ".corp",
    ".private",
    ".consul",  # HashiCorp Consul service discovery
    ".test",  # RFC 6761, never resolves on the internet
)

WELL_KNOWN_APIS = (
    # Hosted AI
    "openai.com", "anthropic.com", "claude.ai", "mistral.ai", "cohere.ai", "cohere.com", "groq.com",
    "together.xyz", "together.ai", "fireworks.ai", "deepseek.com", "x.ai", "perplexity.ai", "openrouter.ai",
    "replicate.com", "huggingface.co", "huggingface.cloud", "ai21.com", "voyageai.com", "deepinfra.com",
    "cerebras.ai", "anyscale.com", "generativeai.google", "bedrock.aws",
    # Cloud providers' APIs (Vertex AI and Gemini are under googleapis.com, Azure OpenAI under azure.com)
    "googleapis.com", "amazonaws.com", "api.aws", "azure.com", "windows.net", "microsoft.com",
)  # fmt: skip

_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
        "::1/128", "fc00::/7", "fe80::/10",
    )
)  # fmt: skip


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(text.partition("%")[0])  # an IPv6 zone (fe80::1%eth0) is no part of it
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=1024)
def internal_host(host: str) -> bool:
    """True for a host inside the deployment (see the module docstring); ``host`` as in a URL, any case."""
    name = host.lower().rstrip(".")
    if not name:
        return False
    address = _address(name)
    if address is not None:
        return any(address in network for network in _NETWORKS if network.version == address.version)
    if "." not in name:
        return True  # single label: localhost, a service name resolved by the cluster's or the LAN's DNS
    return name.endswith(INTERNAL_SUFFIXES)


@functools.lru_cache(maxsize=1024)
def well_known_api(host: str) -> bool:
    """True for a hosted AI or cloud API host (the domains in ``WELL_KNOWN_APIS`` and their subdomains)."""
    name = host.lower().rstrip(".")
    return any(name == domain or name.endswith("." + domain) for domain in WELL_KNOWN_APIS)
