// The live container table (nbext/widget_table.py). Rows come from the kernel; uptime is counted here.

const ACTIONS = {
  created: ["start", "rm"],
  running: ["stop", "kill"],
  paused: ["kill"],
  exited: ["start", "rm"],
  removed: [],
};

function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} second${s === 1 ? "" : "s"}`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? "" : "s"}`;
  const h = Math.round(m / 60);
  return `${h} hour${h === 1 ? "" : "s"}`;
}

function status(row, now) {
  if (row.state === "running" && row.started_ms) return `Up ${ago(now - row.started_ms)}`;
  if (row.state === "exited" && row.finished_ms)
    return `Exited (${row.exit_code ?? "?"}) ${ago(now - row.finished_ms)} ago`;
  if (row.state === "created" && row.created_ms) return `Created ${ago(now - row.created_ms)} ago`;
  return row.state;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}

function render({ model, el }) {
  el.classList.add("wb-widget", "wb-table");
  const note = document.createElement("div");
  note.className = "wb-note";
  const message = document.createElement("div");
  message.className = "wb-message";
  const table = document.createElement("table");
  table.innerHTML =
    "<thead><tr><th>name</th><th>id</th><th>image</th><th>state</th><th>status</th>" +
    "<th>exit code</th><th></th></tr></thead>";
  const body = document.createElement("tbody");
  table.appendChild(body);
  const empty = document.createElement("div");
  empty.className = "wb-empty";
  empty.textContent = "no containers yet";
  el.append(note, table, empty, message);

  const statusCells = [];

  function draw() {
    const rows = model.get("rows");
    body.replaceChildren();
    statusCells.length = 0;
    const now = Date.now();
    for (const row of rows) {
      const tr = document.createElement("tr");
      tr.dataset.id = row.id;
      tr.dataset.state = row.state;
      const statusCell = cell(status(row, now), "wb-status");
      statusCells.push([statusCell, row]);
      tr.append(
        cell(row.name),
        cell(row.id.slice(0, 12), "wb-id"),
        cell(row.image),
        cell(row.state, `wb-state wb-state-${row.state}`),
        statusCell,
        cell(row.exit_code),
      );
      const actions = document.createElement("td");
      for (const action of ACTIONS[row.state] ?? []) {
        const button = document.createElement("button");
        button.textContent = action;
        button.className = `wb-action wb-action-${action}`;
        button.addEventListener("click", () => model.send({ action, id: row.id }));
        actions.appendChild(button);
      }
      tr.appendChild(actions);
      body.appendChild(tr);
    }
    empty.hidden = rows.length > 0;
  }

  function tick() {
    const now = Date.now();
    for (const [td, row] of statusCells) td.textContent = status(row, now);
  }

  function drawNotes() {
    note.textContent = model.get("note");
    note.hidden = !model.get("note");
    message.textContent = model.get("message");
    message.hidden = !model.get("message");
  }

  model.on("change:rows", draw);
  model.on("change:note", drawNotes);
  model.on("change:message", drawNotes);
  draw();
  drawNotes();
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}

export default { render };
