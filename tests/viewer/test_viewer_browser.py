"""The viewer in a real Chromium, served by a real ``tracing-middleware serve`` (uvicorn) in a subprocess."""

from __future__ import annotations

import pathlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from viewer_support import HOSTILE_INPUT, HOSTILE_NAME, Served, build_sample_store, child, root, serve, store


@pytest.fixture(scope="module")
def module_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_sample_store(tmp_path_factory.mktemp("viewer"))


@pytest.fixture(scope="module")
def served(module_store: dict[str, Any]) -> Iterator[Served]:
    with serve(module_store["db"]) as running:
        yield running


def open_list(page: Any, served: Served, query: str = "") -> None:
    page.goto(served.url)  # the printed URL: token traded for a cookie, then a clean address
    assert "token=" not in page.url
    if query:
        page.goto(f"{served.base}/?{query}")
    page.wait_for_function(
        "() => document.querySelectorAll('#rows tr').length > 0 || !document.getElementById('empty').hidden"
    )


def listed(page: Any) -> list[str]:
    return page.eval_on_selector_all("#rows tr[data-trace-id]", "rows => rows.map(r => r.dataset.traceId)")


def test_the_list_shows_every_trace_newest_first(page: Any, served: Served, module_store: dict[str, Any]) -> None:
    open_list(page, served)
    ids = listed(page)
    s = module_store
    assert ids == [s["step"].trace_id, s["hostile"].trace_id, s["health"].trace_id, s["checkout"].trace_id]
    row = page.locator(f'tr[data-trace-id="{s["checkout"].trace_id}"]')
    text = row.inner_text()
    for part in ("POST /checkout", "payments", "shop-api", "shop", "6", "200.0ms", "1 error"):
        assert part in text
    assert "in progress" in page.locator(f'tr[data-trace-id="{s["step"].trace_id}"]').inner_text()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=FRAUD", ["checkout"]),  # a child's name, any case
        ("service=payments", ["checkout"]),
        ("project=shop", ["checkout"]),
        ("errors=1", ["checkout"]),
        ("tag=prod", ["checkout"]),
        ("meta=customer%3Dc42", ["checkout"]),
        ("since=1d", ["step", "hostile", "health", "checkout"]),
        ("since=1m", []),
        ("service=shop-api&project=default", ["health"]),
    ],
)
def test_each_filter(page: Any, served: Served, module_store: dict[str, Any], query: str, expected: list[str]) -> None:
    open_list(page, served, query)
    assert listed(page) == [module_store[name].trace_id for name in expected]
    if not expected:
        assert page.locator("#empty").is_visible()


def test_the_filter_form_submits_what_is_chosen(page: Any, served: Served, module_store: dict[str, Any]) -> None:
    open_list(page, served)
    page.select_option("select[name=service]", "payments")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**service=payments**")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 1")
    assert listed(page) == [module_store["checkout"].trace_id]


def test_new_traces_appear_without_a_reload(page: Any, tmp_path: pathlib.Path) -> None:
    db = tmp_path / "live.sqlite3"
    store(db, [root("first", 0, 10)])
    with serve(db) as running:
        open_list(page, running)
        assert len(listed(page)) == 1
        page.evaluate("window.__sameDocument = 1")
        late = root("arrived later", 0, 5, base=time_now())
        store(db, [late])
        page.wait_for_selector(f'tr[data-trace-id="{late.trace_id}"]', timeout=2_000 + 1_500)  # 2 s + a loaded machine
        assert page.evaluate("window.__sameDocument") == 1  # no reload happened
        assert listed(page)[0] == late.trace_id


def time_now() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def test_paging_walks_every_trace_once(page: Any, tmp_path: pathlib.Path) -> None:
    db = tmp_path / "many.sqlite3"
    runs = [root(f"t{i:03}", i * 10, i * 10 + 5) for i in range(120)]
    store(db, runs)
    with serve(db) as running:
        open_list(page, running)
        seen: list[str] = []
        for _ in range(3):
            page.wait_for_function("() => document.querySelectorAll('#rows tr').length > 0")
            seen += listed(page)
            if page.locator("#older").is_disabled():
                break
            before = page.url
            page.click("#older")
            page.wait_for_function(f"() => location.href !== {before!r}")
        assert seen == [r.trace_id for r in reversed(runs)]
        before = page.url
        page.click("#newer")
        page.wait_for_function(f"() => location.href !== {before!r}")
        page.wait_for_function("() => document.querySelectorAll('#rows tr').length > 0")
        assert listed(page)[0] == runs[69].trace_id


def open_trace(page: Any, served: Served, trace_id: str, query: str = "") -> None:
    page.goto(served.url)
    page.goto(f"{served.base}/traces/{trace_id}{query}")
    page.wait_for_selector("body[data-loaded]")


def bar_box(page: Any, run_id: str) -> dict[str, float]:
    box = page.locator(f'[data-run-id="{run_id}"] [data-bar]').bounding_box()
    assert box is not None
    return box  # type: ignore[no-any-return]


def test_the_waterfall_puts_every_bar_on_one_time_axis(page: Any, served: Served, module_store: dict[str, Any]) -> None:
    s = module_store
    open_trace(page, served, s["checkout"].trace_id)
    rows = page.eval_on_selector_all("[data-run-id]", "rows => rows.map(r => r.dataset.runId)")
    assert len(rows) == 6 and rows[0] == s["checkout"].id
    track = page.locator(f'[data-run-id="{s["checkout"].id}"] .wf-track').bounding_box()
    root_bar = bar_box(page, s["checkout"].id)
    assert abs(root_bar["x"] - track["x"]) < 1.5 and abs(root_bar["width"] - track["width"]) < 1.5
    px_per_ms = track["width"] / 200  # the trace spans 0..200 ms
    for name, start, end in (("client", 40, 190), ("callee", 60, 170), ("fail", 125, 165)):
        box = bar_box(page, s[name].id)
        assert abs(box["x"] - (track["x"] + start * px_per_ms)) < 2, name
        assert abs(box["width"] - (end - start) * px_per_ms) < 2, name
    client, callee = bar_box(page, s["client"].id), bar_box(page, s["callee"].id)
    gap = callee["x"] - client["x"]
    assert gap > 15 * px_per_ms  # the 20 ms on the wire shows as a visible gap
    # indentation follows the tree, errors are marked, services have colours of their own
    indent = page.eval_on_selector_all(
        "[data-run-id] .wf-name", "els => els.map(e => parseFloat(getComputedStyle(e).paddingLeft))"
    )
    assert indent[0] < indent[rows.index(s["client"].id)] < indent[rows.index(s["callee"].id)]
    assert page.locator(f'[data-run-id="{s["fail"].id}"] .err-mark').count() == 1
    colours = {
        page.locator(f'[data-run-id="{s[n].id}"] [data-bar]').evaluate("e => getComputedStyle(e).backgroundColor")
        for n in ("client", "callee")
    }
    assert len(colours) == 2


def test_clicking_a_row_opens_its_detail(page: Any, served: Served, module_store: dict[str, Any]) -> None:
    s = module_store
    open_trace(page, served, s["checkout"].trace_id)
    page.click(f'[data-run-id="{s["fail"].id}"] .label')
    page.wait_for_selector("#detail h2")
    detail = page.inner_text("#detail")
    for part in ("gateway.authorize", "GatewayTimeout: no answer", "Traceback", "payments", s["fail"].id,
                 s["callee"].id, s["checkout"].trace_id, "40.0ms", "error"):  # fmt: skip
        assert part in detail, part
    assert f"run={s['fail'].id}" in page.url  # the address is now a deep link to this run
    page.click(f'[data-run-id="{s["checkout"].id}"] .label')
    page.wait_for_function("() => (document.querySelector('#detail h2') || {}).textContent === 'POST /checkout'")
    detail = page.inner_text("#detail")
    assert '"order": "A1"' in detail and '"customer": "c42"' in detail and "prod" in detail


def test_collapsing_a_subtree_hides_its_rows(page: Any, served: Served, module_store: dict[str, Any]) -> None:
    s = module_store
    open_trace(page, served, s["checkout"].trace_id)
    assert page.locator("[data-run-id]").count() == 6
    page.click(f'[data-run-id="{s["client"].id}"] [data-toggle]')
    page.wait_for_function("() => document.querySelectorAll('[data-run-id]').length === 3")
    assert page.get_attribute(f'[data-run-id="{s["client"].id}"]', "aria-expanded") == "false"
    page.click(f'[data-run-id="{s["client"].id}"] [data-toggle]')
    page.wait_for_function("() => document.querySelectorAll('[data-run-id]').length === 6")


def test_the_keyboard_moves_through_the_rows(page: Any, served: Served, module_store: dict[str, Any]) -> None:
    s = module_store
    open_trace(page, served, s["checkout"].trace_id, f"?run={s['checkout'].id}")
    page.wait_for_selector("#detail h2")
    page.focus("#scroll")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("() => (document.querySelector('#detail h2') || {}).textContent === 'verify_session'")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowLeft")  # the client run has children: collapse them
    page.wait_for_function("() => document.querySelectorAll('[data-run-id]').length === 3")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelectorAll('[data-run-id]').length === 6")
    assert f"run={s['client'].id}" in page.url


def test_a_deep_link_opens_the_run(page: Any, served: Served, module_store: dict[str, Any]) -> None:
    s = module_store
    open_trace(page, served, s["checkout"].trace_id, f"?run={s['callee'].id}")
    page.wait_for_selector("#detail h2")
    assert page.inner_text("#detail h2") == "POST /charge"
    assert "selected" in (page.get_attribute(f'[data-run-id="{s["callee"].id}"]', "class") or "")


def test_a_trace_in_progress_says_so(page: Any, served: Served, module_store: dict[str, Any]) -> None:
    s = module_store
    open_trace(page, served, s["step"].trace_id)
    assert "In progress" in page.inner_text("#notice")
    waiting = page.locator(f'[data-waiting-for="{s["unfinished"].id}"]')
    assert waiting.count() == 1 and "not stored" in waiting.inner_text()
    level = page.get_attribute(f'[data-run-id="{s["step"].id}"]', "aria-level")
    assert level == "2"  # the stored child stays a child, under the missing parent's row


def test_the_trace_page_follows_a_trace_until_its_parent_arrives(page: Any, tmp_path: pathlib.Path) -> None:
    db = tmp_path / "growing.sqlite3"
    parent = root("request", 0, None, base=time_now())
    first = child(parent, "first step", 1, 3, base=time_now())
    store(db, [first])
    with serve(db) as running:
        open_trace(page, running, first.trace_id)
        assert page.locator(f'[data-waiting-for="{parent.id}"]').count() == 1
        parent.end()
        store(db, [parent])  # the request finishes: its run is written last, as in real services
        page.wait_for_selector(f'[data-run-id="{parent.id}"]', timeout=8_000)
        assert page.locator("[data-waiting-for]").count() == 0
        assert page.get_attribute(f'[data-run-id="{first.id}"]', "aria-level") == "2"
        page.wait_for_function("() => document.getElementById('notice').hidden")


def test_the_services_view_shows_calls_between_services(page: Any, served: Served) -> None:
    page.goto(served.url)
    page.goto(f"{served.base}/services?since=")
    row = page.locator('tr[data-caller="shop-api"][data-callee="payments"]')
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells == ["shop-api", "payments", "1", "0", "0.0%", "150.0ms", "150.0ms"]
    assert page.locator('tr[data-caller="entry"][data-callee="shop-api"] td').nth(2).inner_text() == "2"
    assert page.locator("#graph rect").count() >= 3


def test_hostile_values_render_as_text_and_run_nothing(page: Any, served: Served, module_store: dict[str, Any]) -> None:
    s = module_store
    response = page.goto(served.url)
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    page.wait_for_selector(f'tr[data-trace-id="{s["hostile"].trace_id}"]')
    row = page.locator(f'tr[data-trace-id="{s["hostile"].trace_id}"]')
    assert HOSTILE_NAME in row.inner_text() and "<b>svc</b>" in row.inner_text()
    assert page.locator("img").count() == 0 and page.locator("main b").count() == 0
    row.locator("a").click()
    page.wait_for_selector("body[data-loaded]")
    assert page.inner_text("#title") == HOSTILE_NAME
    page.click(f'[data-run-id="{s["hostile"].id}"] .label')
    page.wait_for_selector("#detail h2")
    detail = page.inner_text("#detail")
    assert HOSTILE_INPUT in detail and HOSTILE_NAME in detail
    assert page.locator("img").count() == 0 and page.locator("body script:not([src])").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_bad_ids_and_paths_get_a_404_page(page: Any, served: Served) -> None:
    page.goto(served.url)
    for path in ("/traces/not-an-id", "/traces/01a213a9-9ffb-779f-8c74-6d85bd7df589", "/nope", "/static/../x"):
        response = page.goto(served.base + path)
        assert response is not None and response.status == 404, path
        assert "Not found" in page.inner_text("h1")
        assert "Traceback" not in page.content()


def test_without_the_token_the_browser_is_refused(page: Any, served: Served) -> None:
    response = page.goto(served.base + "/")
    assert response is not None and response.status == 403
    assert "token" in page.inner_text("body").lower()
    assert page.locator("#rows").count() == 0


def test_a_trace_of_ten_thousand_runs_shows_its_first_rows_fast(page: Any, tmp_path: pathlib.Path) -> None:
    db = tmp_path / "big.sqlite3"
    top = root("big batch", 0, 20_000)
    runs = [top]
    for i in range(100):
        group = child(top, f"group {i}", i * 200, i * 200 + 190)
        runs.append(group)
        runs += [child(group, f"item {i}.{j}", i * 200 + j * 2, i * 200 + j * 2 + 1, "tool") for j in range(99)]
    assert len(runs) == 10_001
    store(db, runs)
    with serve(db) as running:
        page.goto(running.url)
        started = time.monotonic()
        page.goto(f"{running.base}/traces/{top.trace_id}")
        page.wait_for_selector(f'[data-run-id="{top.id}"]')
        first_rows = time.monotonic() - started
        assert first_rows < 6  # 2 s is the target on an idle machine (bench/viewer_bench.py); this one is shared
        in_dom = page.locator("[data-run-id]").count()
        assert 10 < in_dom < 200  # only what is on screen (plus a margin) is in the DOM
        page.evaluate("document.getElementById('scroll').scrollTop = 26 * 9000")
        last = runs[9001]
        page.wait_for_selector(f'[data-run-id="{last.id}"]')
        assert page.locator("[data-run-id]").count() < 200
