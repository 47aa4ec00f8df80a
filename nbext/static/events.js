// The event log (nbext/widget_events.py): newest first, filtered here by text and source.
// The filter rule is EventLog.visible()'s.

function searched(line) {
  return [line.source, line.type, line.action, line.id, line.attributes].join(" ").toLowerCase();
}

function clock(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function render({ model, el }) {
  el.classList.add("wb-widget", "wb-events");
  const note = document.createElement("div");
  note.className = "wb-note";
  const bar = document.createElement("div");
  bar.className = "wb-filterbar";
  const input = document.createElement("input");
  input.type = "search";
  input.placeholder = "filter";
  input.className = "wb-filter";
  input.value = model.get("filter");
  input.addEventListener("input", () => {
    model.set("filter", input.value);
    model.save_changes();
  });
  bar.appendChild(input);
  const boxes = {};
  for (const source of ["docker", "containerd"]) {
    const labelEl = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.dataset.source = source;
    box.addEventListener("change", () => {
      const chosen = Object.keys(boxes).filter((s) => boxes[s].checked);
      model.set("sources", chosen);
      model.save_changes();
    });
    boxes[source] = box;
    labelEl.append(box, ` ${source}`);
    bar.appendChild(labelEl);
  }
  const list = document.createElement("ol");
  list.className = "wb-lines";
  const empty = document.createElement("div");
  empty.className = "wb-empty";
  empty.textContent = "no events yet";
  el.append(note, bar, list, empty);

  function draw() {
    const text = model.get("filter").toLowerCase();
    const sources = model.get("sources");
    for (const [source, box] of Object.entries(boxes)) box.checked = sources.includes(source);
    if (input.value !== model.get("filter")) input.value = model.get("filter");
    list.replaceChildren();
    let shown = 0;
    for (const line of model.get("events")) {
      if (!sources.includes(line.source) || (text && !searched(line).includes(text))) continue;
      const li = document.createElement("li");
      li.className = `wb-event wb-source-${line.source}`;
      li.dataset.action = line.action;
      li.textContent = `${clock(line.time_ms)}  ${line.source}  ${line.type} ${line.action}  ` +
        `${line.id.slice(0, 12)}  ${line.attributes}`;
      list.appendChild(li);
      shown += 1;
    }
    empty.hidden = shown > 0;
  }

  function drawNote() {
    note.textContent = model.get("note");
    note.hidden = !model.get("note");
  }

  model.on("change:events", draw);
  model.on("change:filter", draw);
  model.on("change:sources", draw);
  model.on("change:note", drawNote);
  draw();
  drawNote();
}

export default { render };
