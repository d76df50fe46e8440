"""How outbound requests are traced: the patched clients' options and an explicit transport's overrides."""

from __future__ import annotations

from typing import Any, NamedTuple

from tracing_middleware.core import destinations as _targets
from tracing_middleware.core import runtime as _rt

__all__ = ["Options", "Override", "as_targets", "global_options", "make_override", "options_for", "set_global_options"]


class Options(NamedTuple):
    """How outbound requests are traced."""

    client_runs: bool
    targets: _targets.PropagationTargets


def global_options() -> Options:
    """The options of the patched clients; targets from the environment until ``instrument`` sets them."""
    runtime = _rt.current
    options: Options | None = runtime.outbound_options
    if options is None:
        options = runtime.outbound_options = Options(True, _targets.PropagationTargets.from_env())
    return options


def set_global_options(options: Options) -> None:
    """Replace the options of the patched clients."""
    _rt.current.outbound_options = options


class Override(NamedTuple):
    """An explicit transport's own options; None fields follow the global options at request time."""

    client_runs: bool | None
    targets: _targets.PropagationTargets | None

    def resolve(self) -> Options:
        """The options in force for one request."""
        base = global_options()
        return Options(
            base.client_runs if self.client_runs is None else self.client_runs,
            base.targets if self.targets is None else self.targets,
        )


def make_override(client_runs: bool | None, targets: Any) -> Override | None:
    """Checked options of an explicit transport or adapter; None when it only follows the global ones."""
    if client_runs is not None and not isinstance(client_runs, bool):
        raise TypeError(f"client_runs must be True, False or None (follow instrument()); got {client_runs!r}")
    if client_runs is None and targets is None:
        return None
    return Override(client_runs, None if targets is None else as_targets(targets))


def options_for(override: Override | None) -> Options:
    """The options for one request through a transport with ``override``."""
    return global_options() if override is None else override.resolve()


def as_targets(targets: Any) -> _targets.PropagationTargets:
    """``targets`` as given to ``instrument``/transports: None (environment), patterns, or targets."""
    if targets is None:
        return _targets.PropagationTargets.from_env()
    if isinstance(targets, _targets.PropagationTargets):
        return targets
    if isinstance(targets, (str, list, tuple, set, frozenset)):
        return _targets.PropagationTargets(targets)
    raise TypeError(
        f"targets must be None, a list of host patterns / URL prefixes, or PropagationTargets; got {targets!r}"
    )
