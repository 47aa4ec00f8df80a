"""A real browser on a real JupyterLab: headless Chromium opens a notebook, runs it, and sees the table
rows, timeline bars and event lines drawn, the first row and bar while the container is still
starting (its runtime's `start` is held). A screenshot is kept in test-artifacts/."""

from __future__ import annotations

import nbformat

from tests.browser.conftest import ARTIFACTS

WAIT_MS = 60_000
CELLS = [
    "%load_ext nbext",
    "table = nbext.table(); timeline = nbext.timeline(); log = nbext.event_log()\ndisplay(table, timeline, log)",
    "%container run --rm --name nb-browser --runtime gated --network none busybox echo hello from the browser",
]


def write_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(nb, path)


def test_widgets_render_live_in_jupyterlab(lab, dockerd, browser):
    write_notebook(lab.root / "live.ipynb")
    dockerd.close_gate()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(lab.open_url("live.ipynb"))
        page.locator(".jp-Notebook").wait_for(timeout=WAIT_MS)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=WAIT_MS)  # the kernel is connected
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        page.locator(".jp-InputPrompt", has_text="[1]").wait_for(timeout=WAIT_MS)

        starting_row = page.locator(".wb-table tbody tr[data-state='created']", has_text="nb-browser")
        open_bar = page.locator(".wb-timeline .wb-row[data-name='ContainerStart'] .wb-bar.wb-open")
        starting_row.wait_for(timeout=WAIT_MS)
        open_bar.wait_for(timeout=WAIT_MS)
        assert dockerd.wait_start_held()  # both drawn while the runtime's `start` is still held
        page.screenshot(path=str(ARTIFACTS / "nbext-browser-starting.png"))
        dockerd.open_gate()

        page.get_by_text("hello from the browser").wait_for(timeout=WAIT_MS)
        page.locator(".wb-table tbody tr[data-state='removed']", has_text="nb-browser").wait_for(timeout=WAIT_MS)
        page.locator(".wb-events .wb-event[data-action='destroy']").wait_for(timeout=WAIT_MS)
        assert page.locator(".wb-timeline .wb-bar.wb-open").count() == 0
        bars = page.locator(".wb-timeline .wb-row").evaluate_all("rows => rows.map(r => r.dataset.name)")
        assert bars[0] == "runRun" and bars.index("ContainerCreate") < bars.index("ContainerStart"), bars
        widths = page.locator(".wb-timeline .wb-bar").evaluate_all("bars => bars.map(b => b.offsetWidth)")
        assert all(w >= 1 for w in widths)
        actions = page.locator(".wb-events .wb-event").evaluate_all("lines => lines.map(l => l.dataset.action)")
        assert actions[0] == "destroy" and {"create", "start", "die"} <= set(actions)
        page.locator(".jp-OutputArea-output", has_text="exit status 0").wait_for(timeout=WAIT_MS)
        page.screenshot(path=str(ARTIFACTS / "nbext-browser.png"), full_page=True)
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "nbext-browser-failed.png"), full_page=True)
        raise
    finally:
        dockerd.open_gate()
        page.close()
