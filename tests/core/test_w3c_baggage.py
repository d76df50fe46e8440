"""``baggage`` against the W3C Baggage Recommendation: grammar, properties, encoding, limits, pass-on."""

from __future__ import annotations

import pytest

from tracing_middleware import RunTree, inject
from tracing_middleware.core.propagation import baggage

PARENT = RunTree("upstream").dotted_order

VALID_MEMBERS = {
    "plain": "userId=alice",
    "percent-encoded value": "serverNode=DF%2028",
    "UTF-8 escapes": "city=M%C3%BCnchen",
    "empty value": "flag=",
    "= inside the value": "expr=a=b==",
    "every token character in the key": "!#$%&'*+-.^_`|~09AZaz=v",
    "OWS around =": "key2 = value2",
    "a property without value": "key1=value1;property1",
    "two properties": "key1=value1;property1;property2",
    "a property with a value": "key3=value3; propertyKey=propertyValue",
    "property with OWS": "k=v ; p = q ;r",
    "every value octet": "k=!#$%25&'()*+-./0123456789:<=>?@AZ[]^_`az{|}~",
}

INVALID_MEMBERS = {
    "no =": "userId",
    "empty key": "=v",
    "space inside a key": "user id=v",
    "space inside a value": "k=a b",
    "double quote in a value": 'k="v"',
    "backslash in a value": "k=a\\b",
    "control character": "k=a\x01b",
    "non-ASCII value": "k=caf\xe9",
    "stray % escape": "k=100%",
    "escape that is not hex": "k=%zz",
    "escape that is not UTF-8": "k=%ff%fe",
    "empty property": "k=v;",
    "property with a bad key": "k=v;p q=1",
    "key with a separator": "a:b=v",
}


def forwarded(received: str, ours: RunTree | None = None) -> str:
    """The ``baggage`` a run continuing a caller that sent ``received`` puts on its outgoing call."""
    remote = RunTree.from_headers({"langsmith-trace": PARENT, "baggage": received})
    assert remote is not None
    run = ours or remote.create_child("call")
    return run.to_headers().get("baggage", "")


@pytest.mark.parametrize("member", VALID_MEMBERS.values(), ids=VALID_MEMBERS.keys())
def test_valid_member_is_passed_on_byte_for_byte(member: str) -> None:
    assert baggage.valid_member(member)
    assert forwarded(f"a=1, {member} ,z=2") == f"a=1,{member},z=2"


@pytest.mark.parametrize("member", INVALID_MEMBERS.values(), ids=INVALID_MEMBERS.keys())
def test_invalid_member_costs_only_itself(member: str) -> None:
    assert not baggage.valid_member(member)
    assert forwarded(f"a=1,{member},z=2") == "a=1,z=2"


def test_repeated_baggage_headers_are_one_list_in_order() -> None:
    remote = RunTree.from_headers(
        [("langsmith-trace", PARENT), ("baggage", "userId=alice"), ("baggage", "serverNode=DF%2028,isProduction=false")]
    )
    assert remote is not None
    assert remote.create_child("c").to_headers()["baggage"] == "userId=alice,serverNode=DF%2028,isProduction=false"


def test_ours_are_replaced_and_others_kept_in_order() -> None:
    received = "a=1,langsmith-project=old,b=2;p,langsmith-tags=x,langsmith-metadata=%7B%7D,c=3"
    remote = RunTree.from_headers({"langsmith-trace": PARENT, "baggage": received})
    assert remote is not None and remote.project_name == "old"
    child = remote.create_child("c", project_name="new", tags=["t"], metadata={"k": "v"})
    sent = child.to_headers()["baggage"]
    assert sent == "a=1,b=2;p,c=3,langsmith-metadata=%7B%22k%22%3A%22v%22%7D,langsmith-tags=x%2Ct,langsmith-project=new"


def test_percent_encoded_values_of_ours_are_decoded() -> None:
    remote = RunTree.from_headers(
        {"langsmith-trace": PARENT, "baggage": "langsmith-project=caf%C3%A9%20%2F%20bar,langsmith-tags=a%2Cb"}
    )
    assert remote is not None and remote.project_name == "café / bar" and remote.tags == ["a", "b"]


def test_our_members_read_with_properties_and_ows() -> None:
    remote = RunTree.from_headers({"langsmith-trace": PARENT, "baggage": " langsmith-project = p ;prop=1 "})
    assert remote is not None and remote.project_name == "p"


def test_at_least_64_members_are_passed_on_and_no_more_than_fit() -> None:
    sixty_four = ",".join(f"k{i}=v" for i in range(64))
    assert forwarded(sixty_four) == sixty_four
    remote = RunTree.from_headers({"langsmith-trace": PARENT, "baggage": sixty_four})
    assert remote is not None
    # With ours added, whole members of the others give way: 64 members in all, ours last.
    sent = remote.create_child("c", project_name="p").to_headers()["baggage"].split(",")
    assert len(sent) == 64 and sent[-1] == "langsmith-project=p" and sent[:63] == sixty_four.split(",")[:63]


def test_at_least_8192_bytes_are_passed_on_in_whole_members() -> None:
    members = [f"k{i:02d}=" + "v" * 1019 for i in range(8)]  # 8 x 1023 + 7 commas = 8191 bytes
    assert forwarded(",".join(members)) == ",".join(members)
    nine = [*members, "k08=" + "v" * 1019]
    assert forwarded(",".join(nine)) == ",".join(members)  # the ninth does not fit: dropped whole


def test_exactly_8192_bytes_are_passed_on_and_with_ours_the_total_stays_within() -> None:
    members = [f"k{i}=" + "v" * 1020 for i in range(8)]  # 8 x 1023 + 7 commas + 1 = 8192 bytes
    members[-1] += "v"
    full = ",".join(members)
    assert len(full) == 8192 and forwarded(full) == full
    assert forwarded(full + ",k8=v") == full
    remote = RunTree.from_headers({"langsmith-trace": PARENT, "baggage": full})
    assert remote is not None
    sent = remote.create_child("c", project_name="p").to_headers()["baggage"]
    assert sent == ",".join([*members[:-1], "langsmith-project=p"])  # ours go; the last of the others gives way


def test_inject_keeps_the_requests_own_members_and_replaces_ours() -> None:
    run = RunTree("r", project_name="mine")
    carrier = {"baggage": "app=1,langsmith-project=stale,bad member,tenant=t;ttl=5"}
    inject(carrier, run)
    assert carrier["baggage"] == "app=1,tenant=t;ttl=5,langsmith-project=mine"


def test_inject_does_not_repeat_a_member_the_request_already_has() -> None:
    remote = RunTree.from_headers({"langsmith-trace": PARENT, "baggage": "userId=alice,tier=gold"})
    assert remote is not None
    carrier = {"baggage": "userId=bob"}  # e.g. written by another propagator or by the app
    inject(carrier, remote.create_child("call"))
    assert carrier["baggage"] == "userId=bob,tier=gold"


def test_untrusted_or_absent_baggage_adds_nothing() -> None:
    assert forwarded("") == ""
    assert "baggage" not in RunTree("fresh").to_headers()


def test_hostile_baggage_never_raises() -> None:
    for value in ("\x00" * 100, "k=\udcff", "=" * 9000, "k=v;" * 3000, "a=1" + ",," * 5000, "\r\nx: y=1"):
        remote = RunTree.from_headers({"langsmith-trace": PARENT, "baggage": value})
        assert remote is not None
        remote.create_child("c").to_headers()
